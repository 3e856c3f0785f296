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
	switch {
	case req.EnableIPv6 != nil && *req.EnableIPv6:
		return unsupported("EnableIPv6", "IPv4 networks only")
	case req.EnableIPv4 != nil && !*req.EnableIPv4:
		return unsupported("EnableIPv4=false", "IPv4 networks only")
	case req.Ingress || req.ConfigOnly || req.ConfigFrom != nil || req.Scope != "" && req.Scope != "local":
		return unsupported("swarm network settings (Ingress, ConfigOnly, ConfigFrom, Scope)", "single-host bridges only")
	case len(req.Options) > 0:
		return unsupported("network Options", "skiff's bridges take no driver options")
	}
	o := engine.NetworkCreateOptions{Driver: req.Driver, Internal: req.Internal, Labels: req.Labels}
	if ipam := req.IPAM; ipam != nil {
		if ipam.Driver != "" && ipam.Driver != "default" || len(ipam.Options) > 0 {
			return unsupported("IPAM.Driver and IPAM.Options", "skiff's own address management")
		}
		switch len(ipam.Config) {
		case 0:
		case 1:
			c := ipam.Config[0]
			if c.IPRange.IsValid() || len(c.AuxAddress) > 0 {
				return unsupported("IPAM.Config IPRange and AuxiliaryAddresses", "a subnet and a gateway only")
			}
			if c.Subnet.IsValid() {
				o.Subnet = c.Subnet.String()
			}
			if c.Gateway.IsValid() {
				o.Gateway = c.Gateway.String()
			}
		default:
			return unsupported("several IPAM.Config entries", "one subnet per network")
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
