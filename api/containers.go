package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	ctypes "github.com/moby/moby/api/types/container"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func (s *Server) listContainers(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	limit, err := intValue(r, "limit", -1)
	if err != nil {
		return err
	}
	if limit <= 0 {
		limit = -1
	}
	list, err := s.e.ContainerList(r.Context(), engine.ContainerListOptions{
		All: boolValue(r, "all"), Last: limit, Size: boolValue(r, "size"), Filters: f,
	})
	if err != nil {
		return err
	}
	if list == nil {
		list = []ctypes.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) inspectContainer(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.e.ContainerInspect(r.Context(), p["id"], boolValue(r, "size"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

// startContainer starts a container; an attach waiting for it (docker
// run attaches before it starts) gets the container's first byte.
func (s *Server) startContainer(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	if c.State != nil && c.State.Running {
		return errNotModified
	}
	if pa := s.attaches.takePending(c.ID); pa != nil {
		if err := s.startFor(r.Context(), c.ID, pa); err != nil {
			return err
		}
	} else if err := s.e.ContainerStart(r.Context(), c.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// stopOptions reads t (or timeout) and signal.
func stopOptions(r *http.Request) (engine.StopOptions, error) {
	o := engine.StopOptions{Signal: r.FormValue("signal")}
	for _, k := range []string{"t", "timeout"} {
		if v := r.FormValue(k); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				return o, errdefs.Invalid("invalid %s=%q: want seconds", k, v)
			}
			o.Timeout = &n
		}
	}
	return o, nil
}

func (s *Server) stopContainer(w http.ResponseWriter, r *http.Request, p params) error {
	o, err := stopOptions(r)
	if err != nil {
		return err
	}
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	if c.State == nil || !c.State.Running {
		return errNotModified
	}
	if err := s.e.ContainerStop(r.Context(), c.ID, o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) restartContainer(w http.ResponseWriter, r *http.Request, p params) error {
	o, err := stopOptions(r)
	if err != nil {
		return err
	}
	if err := s.e.ContainerRestart(r.Context(), p["id"], o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) killContainer(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	if c.State == nil || !c.State.Running {
		return fmt.Errorf("cannot kill container: %s: container %s is not running: %w", p["id"], c.ID, errdefs.ErrConflict)
	}
	if err := s.e.ContainerKill(r.Context(), c.ID, r.FormValue("signal")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// waitContainer answers at once with the headers (clients start the
// container after that) and with the status when the condition is met.
func (s *Server) waitContainer(w http.ResponseWriter, r *http.Request, p params) error {
	cond := r.FormValue("condition")
	if _, err := s.e.ContainerInspect(r.Context(), p["id"], false); err != nil {
		return err
	}
	if err := engine.CheckWaitCondition(cond); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	newFlushWriter(w).Write(nil)
	code, err := s.e.ContainerWaitFor(r.Context(), p["id"], cond)
	res := ctypes.WaitResponse{StatusCode: int64(code)}
	if err != nil {
		if r.Context().Err() != nil {
			return nil // the client went away
		}
		res.Error = &ctypes.WaitExitError{Message: errdefs.Message(err)}
	}
	return json.NewEncoder(w).Encode(res)
}

func (s *Server) removeContainer(w http.ResponseWriter, r *http.Request, p params) error {
	if boolValue(r, "link") {
		return unsupported("link=1", "legacy links")
	}
	err := s.e.ContainerRemove(r.Context(), p["id"], engine.RemoveOptions{Force: boolValue(r, "force"), Volumes: boolValue(r, "v")})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) renameContainer(w http.ResponseWriter, r *http.Request, p params) error {
	name := strings.TrimPrefix(r.FormValue("name"), "/")
	if name == "" {
		return errdefs.Invalid("rename needs name=NEW_NAME")
	}
	if err := s.e.ContainerRename(r.Context(), p["id"], name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) pauseContainer(w http.ResponseWriter, r *http.Request, p params) error {
	if err := s.e.ContainerPause(r.Context(), p["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) unpauseContainer(w http.ResponseWriter, r *http.Request, p params) error {
	if err := s.e.ContainerUnpause(r.Context(), p["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) topContainer(w http.ResponseWriter, r *http.Request, p params) error {
	var args []string
	if v := r.FormValue("ps_args"); v != "" {
		args = strings.Fields(v)
	}
	res, err := s.e.ContainerTop(r.Context(), p["id"], args)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) changesContainer(w http.ResponseWriter, r *http.Request, p params) error {
	res, err := s.e.ContainerChanges(r.Context(), p["id"])
	if err != nil {
		return err
	}
	if res == nil {
		res = []ctypes.FilesystemChange{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) exportContainer(w http.ResponseWriter, r *http.Request, p params) error {
	if _, err := s.e.ContainerInspect(r.Context(), p["id"], false); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return s.e.ContainerExport(r.Context(), p["id"], engine.ExportTarget{Writer: w})
}

// logsContainer streams a container's log, multiplexed unless it has a
// tty, as Docker does.
func (s *Server) logsContainer(w http.ResponseWriter, r *http.Request, p params) error {
	stdout, stderr := boolValue(r, "stdout"), boolValue(r, "stderr")
	if !stdout && !stderr {
		return errdefs.Invalid("you must choose at least one stream (stdout=1 or stderr=1)")
	}
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	o := engine.LogOptions{Follow: boolValue(r, "follow"), Tail: -1, Timestamps: boolValue(r, "timestamps"), Details: boolValue(r, "details")}
	if v := r.FormValue("tail"); v != "" && v != "all" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errdefs.Invalid("invalid tail=%q: want a number or all", v)
		}
		o.Tail = n
	}
	for k, dst := range map[string]*time.Time{"since": &o.Since, "until": &o.Until} {
		if v := r.FormValue(k); v != "" && v != "0" {
			t, err := engine.ParseTime(v, k)
			if err != nil {
				return err
			}
			*dst = t
		}
	}
	tty := c.Config != nil && c.Config.Tty
	ct := "application/vnd.docker.raw-stream"
	if !tty && versionAtLeast(r, "1.42") {
		ct = "application/vnd.docker.multiplexed-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	fw := newFlushWriter(w)
	fw.Write(nil)
	var out, errw io.Writer = fw, fw
	if !tty {
		out, errw = newMux(fw)
	}
	if !stdout {
		out = io.Discard
	}
	if !stderr {
		errw = io.Discard
	}
	return s.e.ContainerLogs(r.Context(), c.ID, o, out, errw)
}

// statsContainer answers one reading (stream=0; without one-shot it
// waits a second so that precpu_stats holds the reading before), or a
// reading every second.
func (s *Server) statsContainer(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	stream := r.FormValue("stream") == "" || boolValue(r, "stream")
	oneShot := boolValue(r, "one-shot")
	if oneShot && stream {
		return errdefs.Invalid("one-shot needs stream=0")
	}
	prev, err := s.e.ContainerStatsSample(r.Context(), c.ID)
	if err != nil {
		return err
	}
	name := "/" + strings.TrimPrefix(c.Name, "/")
	if !stream {
		cur := prev
		if !oneShot {
			select {
			case <-r.Context().Done():
				return nil
			case <-time.After(time.Second):
			}
			if cur, err = s.e.ContainerStatsSample(r.Context(), c.ID); err != nil {
				return err
			}
		} else {
			prev = &engine.StatsSample{}
		}
		writeJSON(w, http.StatusOK, statsResponse(c.ID, name, prev, cur))
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fw := newFlushWriter(w)
	enc := json.NewEncoder(fw)
	if err := enc.Encode(statsResponse(c.ID, name, &engine.StatsSample{}, prev)); err != nil {
		return nil
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-t.C:
		}
		cur, err := s.e.ContainerStatsSample(r.Context(), c.ID)
		if err != nil {
			return nil
		}
		if enc.Encode(statsResponse(c.ID, name, prev, cur)) != nil {
			return nil
		}
		prev = cur
	}
}

func statsResponse(id, name string, prev, cur *engine.StatsSample) ctypes.StatsResponse {
	cpu := func(s *engine.StatsSample) ctypes.CPUStats {
		return ctypes.CPUStats{
			CPUUsage:       ctypes.CPUUsage{TotalUsage: s.CPUTotal, UsageInKernelmode: s.CPUKernel, UsageInUsermode: s.CPUUser},
			SystemUsage:    s.SystemCPU,
			OnlineCPUs:     s.OnlineCPUs,
			ThrottlingData: ctypes.ThrottlingData{},
		}
	}
	res := ctypes.StatsResponse{
		Name: name, ID: id, Read: cur.Read, PreRead: prev.Read, OSType: "linux",
		CPUStats: cpu(cur), PreCPUStats: cpu(prev),
		MemoryStats: ctypes.MemoryStats{Usage: cur.MemUsage, Limit: cur.MemLimit, Stats: cur.MemStats},
		PidsStats:   ctypes.PidsStats{Current: cur.Pids},
		BlkioStats: ctypes.BlkioStats{IoServiceBytesRecursive: []ctypes.BlkioStatEntry{
			{Op: "read", Value: cur.BlockRead}, {Op: "write", Value: cur.BlockWrite},
		}},
	}
	for name, n := range cur.Networks {
		if res.Networks == nil {
			res.Networks = map[string]ctypes.NetworkStats{}
		}
		res.Networks[name] = ctypes.NetworkStats{RxBytes: n.RxBytes, RxPackets: n.RxPackets, RxErrors: n.RxErrors,
			RxDropped: n.RxDropped, TxBytes: n.TxBytes, TxPackets: n.TxPackets, TxErrors: n.TxErrors, TxDropped: n.TxDropped}
	}
	return res
}

func (s *Server) pruneContainers(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	rep, err := s.e.ContainerPrune(r.Context(), f)
	if err != nil {
		return err
	}
	if rep.ContainersDeleted == nil {
		rep.ContainersDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// resizeContainer resizes the tty of a container's attach sessions.
func (s *Server) resizeContainer(w http.ResponseWriter, r *http.Request, p params) error {
	c, err := s.e.ContainerInspect(r.Context(), p["id"], false)
	if err != nil {
		return err
	}
	wid, hgt, err := sizeValue(r)
	if err != nil {
		return err
	}
	if c.State == nil || !c.State.Running {
		return fmt.Errorf("cannot resize container %s: it is not running: %w", p["id"], errdefs.ErrConflict)
	}
	s.attaches.resize(c.ID, wid, hgt)
	w.WriteHeader(http.StatusOK)
	return nil
}

// Archives (docker cp).

const pathStatHeader = "X-Docker-Container-Path-Stat"

func (s *Server) setPathStat(w http.ResponseWriter, r *http.Request, id, path string) error {
	if path == "" {
		return errdefs.Invalid("path is required")
	}
	st, err := s.e.ContainerStatPath(r.Context(), id, path)
	if err != nil {
		return err
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
	return nil
}

func (s *Server) headArchive(w http.ResponseWriter, r *http.Request, p params) error {
	if err := s.setPathStat(w, r, p["id"], r.FormValue("path")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getArchive(w http.ResponseWriter, r *http.Request, p params) error {
	path := r.FormValue("path")
	if err := s.setPathStat(w, r, p["id"], path); err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.Header().Set("Content-Type", "application/x-tar")
	return s.e.CopyFromContainer(r.Context(), p["id"], path, "-", w, engine.CopyOptions{Archive: true})
}

func (s *Server) putArchive(w http.ResponseWriter, r *http.Request, p params) error {
	path := r.FormValue("path")
	if path == "" {
		return errdefs.Invalid("path is required")
	}
	o := engine.CopyOptions{Archive: boolValue(r, "copyUIDGID")}
	if err := s.e.CopyToContainer(r.Context(), p["id"], "-", r.Body, path, o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
