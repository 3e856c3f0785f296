package api

import (
	"net/http"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/skiff-project/skiff/engine"
	"github.com/skiff-project/skiff/errdefs"
)

func (s *Server) listNetworks(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	list, err := s.e.NetworkList(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []network.Summary{}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (s *Server) inspectNetwork(w http.ResponseWriter, r *http.Request, p params) error {
	n, err := s.e.NetworkInspect(r.Context(), p["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (s *Server) createNetwork(w http.ResponseWriter, r *http.Request, _ params) error {
	var req network.CreateRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		return errdefs.Invalid("a network needs a Name")
	}
	if req.Ingress {
		return unsupported("Ingress", "single-host bridges only")
	}
	o := engine.NetworkCreateOptions{
		Driver: req.Driver, Internal: req.Internal, Labels: req.Labels, Options: req.Options,
		IPv6: req.EnableIPv6 != nil && *req.EnableIPv6, DisableIPv4: req.EnableIPv4 != nil && !*req.EnableIPv4,
		Attachable: req.Attachable, ConfigOnly: req.ConfigOnly, Scope: req.Scope,
	}
	if req.ConfigFrom != nil {
		o.ConfigFrom = req.ConfigFrom.Network
	}
	if ipam := req.IPAM; ipam != nil {
		o.IPAMDriver, o.IPAMOptions = ipam.Driver, ipam.Options
		for _, c := range ipam.Config {
			o.IPAM = append(o.IPAM, networkIPAM(c))
		}
	}
	res, err := s.e.NetworkCreate(r.Context(), req.Name, o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (s *Server) removeNetwork(w http.ResponseWriter, r *http.Request, p params) error {
	if err := s.e.NetworkRemove(r.Context(), p["id"]); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) connectNetwork(w http.ResponseWriter, r *http.Request, p params) error {
	var req network.ConnectRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Container == "" {
		return errdefs.Invalid("connect needs a Container")
	}
	var o engine.NetworkConnectOptions
	if ep := req.EndpointConfig; ep != nil {
		o = connectOptions(ep)
	}
	if err := s.e.NetworkConnectWith(r.Context(), p["id"], req.Container, o); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) disconnectNetwork(w http.ResponseWriter, r *http.Request, p params) error {
	var req network.DisconnectRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Container == "" {
		return errdefs.Invalid("disconnect needs a Container")
	}
	if err := s.e.NetworkDisconnect(r.Context(), p["id"], req.Container); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) pruneNetworks(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	rep, err := s.e.NetworkPrune(r.Context(), f)
	if err != nil {
		return err
	}
	if rep.NetworksDeleted == nil {
		rep.NetworksDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// Volumes.

func (s *Server) listVolumes(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	list, err := s.e.VolumeList(r.Context(), f)
	if err != nil {
		return err
	}
	res := volume.ListResponse{Volumes: list, Warnings: []string{}}
	if res.Volumes == nil {
		res.Volumes = []volume.Volume{}
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func (s *Server) createVolume(w http.ResponseWriter, r *http.Request, _ params) error {
	var req volume.CreateRequest
	if err := decodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.ClusterVolumeSpec != nil {
		return unsupported("ClusterVolumeSpec", "local volumes only")
	}
	v, err := s.e.VolumeCreate(r.Context(), req.Name, engine.VolumeCreateOptions{Driver: req.Driver, Labels: req.Labels, Options: req.DriverOpts})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, v)
	return nil
}

func (s *Server) inspectVolume(w http.ResponseWriter, r *http.Request, p params) error {
	v, err := s.e.VolumeInspect(r.Context(), p["name"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) removeVolume(w http.ResponseWriter, r *http.Request, p params) error {
	if err := s.e.VolumeRemove(r.Context(), p["name"], boolValue(r, "force")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) pruneVolumes(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	all := false
	if vs, ok := f["all"]; ok {
		for _, v := range vs {
			all = all || v == "true" || v == "1"
		}
		delete(f, "all")
	}
	rep, err := s.e.VolumePrune(r.Context(), all, f)
	if err != nil {
		return err
	}
	if rep.VolumesDeleted == nil {
		rep.VolumesDeleted = []string{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}
