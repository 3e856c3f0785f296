package api

import (
	"fmt"
	"net/http"

	"github.com/moby/moby/api/types/swarm"

	"github.com/skiff-project/skiff/errdefs"
)

// skiff is always a one-node swarm of its user: the node is this host,
// the one manager and leader, and services run on it with no daemon
// (see engine/services.go). The swarm cannot be initialized, joined,
// left, locked or reconfigured, and its node cannot be changed.

// swarmStatus is /_ping's Swarm header: the docker CLI hides (and
// refuses) its service and node commands unless the node is an active
// manager.
const swarmStatus = "active/manager"

// pingSwarm is /_ping with the Swarm header.
func (s *Server) pingSwarm(w http.ResponseWriter, r *http.Request, p params) error {
	w.Header().Set("Swarm", swarmStatus)
	return s.ping(w, r, p)
}

func (s *Server) inspectSwarm(w http.ResponseWriter, r *http.Request, _ params) error {
	sw, err := s.e.SwarmInspect(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sw)
	return nil
}

// swarmFixed refuses what would change the swarm itself, with Docker's
// 503 (a node already, or not, in a swarm).
func swarmFixed(msg string) handler {
	return func(w http.ResponseWriter, r *http.Request, _ params) error {
		discardReader(r.Body)
		return fmt.Errorf("%s: %w", msg, errdefs.ErrUnavailable)
	}
}

// The refusals of /swarm/init, join, leave, update, unlock and unlockkey.
const (
	swarmInitMsg   = "this node is already part of a swarm: skiff is always a one-node swarm of its user, with this host as its manager, so there is nothing to init"
	swarmJoinMsg   = "this node is already part of a swarm: skiff's swarm is this host alone and cannot join another"
	swarmLeaveMsg  = "skiff's one-node swarm cannot be left: it is always active (remove services with docker service rm)"
	swarmUpdateMsg = "skiff's one-node swarm has no settings to update"
	swarmUnlockMsg = "skiff's one-node swarm is never locked: there is nothing to unlock and no unlock key"
)

func (s *Server) listNodes(w http.ResponseWriter, r *http.Request, _ params) error {
	f, err := filtersValue(r)
	if err != nil {
		return err
	}
	nodes, err := s.e.NodeList(r.Context(), f)
	if err != nil {
		return err
	}
	if nodes == nil {
		nodes = []swarm.Node{}
	}
	writeJSON(w, http.StatusOK, nodes)
	return nil
}

func (s *Server) inspectNode(w http.ResponseWriter, r *http.Request, p params) error {
	n, err := s.e.NodeInspect(r.Context(), p["id"])
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

// nodeFixed refuses to update or remove the node (after a 404 for
// another node's ID).
func (s *Server) nodeFixed(what string) handler {
	return func(w http.ResponseWriter, r *http.Request, p params) error {
		discardReader(r.Body)
		n, err := s.e.NodeInspect(r.Context(), p["id"])
		if err != nil {
			return err
		}
		return errdefs.Invalid("cannot %s node %s: it is this host, the one node of skiff's swarm; its role, availability and labels are fixed", what, n.Description.Hostname)
	}
}
