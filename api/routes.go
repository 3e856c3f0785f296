package api

import "net/http"

// routes is every endpoint the service answers, as Docker's API names
// them (paths after the optional /vX.Y prefix).
func (s *Server) routes() *router {
	rt := &router{}
	get, post, del, head, put := http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodHead, http.MethodPut

	// System.
	rt.add(get, "/_ping", s.pingSwarm)
	rt.add(head, "/_ping", s.pingSwarm)
	rt.add(get, "/version", s.version)
	rt.add(get, "/info", s.info)
	rt.add(get, "/system/df", s.systemDF)
	rt.add(get, "/events", s.events)
	rt.add(post, "/auth", s.auth)

	// Containers.
	rt.add(get, "/containers/json", s.listContainers)
	rt.add(post, "/containers/create", s.createContainer)
	rt.add(post, "/containers/prune", s.pruneContainers)
	rt.add(get, "/containers/{id}/json", s.inspectContainer)
	rt.add(post, "/containers/{id}/start", s.startContainer)
	rt.add(post, "/containers/{id}/stop", s.stopContainer)
	rt.add(post, "/containers/{id}/restart", s.restartContainer)
	rt.add(post, "/containers/{id}/kill", s.killContainer)
	rt.add(post, "/containers/{id}/wait", s.waitContainer)
	rt.add(post, "/containers/{id}/attach", s.attachContainer)
	rt.add(post, "/containers/{id}/resize", s.resizeContainer)
	rt.add(get, "/containers/{id}/logs", s.logsContainer)
	rt.add(get, "/containers/{id}/top", s.topContainer)
	rt.add(get, "/containers/{id}/changes", s.changesContainer)
	rt.add(get, "/containers/{id}/export", s.exportContainer)
	rt.add(get, "/containers/{id}/stats", s.statsContainer)
	rt.add(post, "/containers/{id}/rename", s.renameContainer)
	rt.add(post, "/containers/{id}/pause", s.pauseContainer)
	rt.add(post, "/containers/{id}/unpause", s.unpauseContainer)
	rt.add(post, "/containers/{id}/update", s.updateContainer)
	rt.add(head, "/containers/{id}/archive", s.headArchive)
	rt.add(get, "/containers/{id}/archive", s.getArchive)
	rt.add(put, "/containers/{id}/archive", s.putArchive)
	rt.add(del, "/containers/{id}", s.removeContainer)
	rt.add(post, "/containers/{id}/exec", s.execCreate)
	rt.add(post, "/exec/{id}/start", s.execStart)
	rt.add(post, "/exec/{id}/resize", s.execResize)
	rt.add(get, "/exec/{id}/json", s.execInspect)

	// Images: names have slashes, so the name takes every segment
	// between the prefix and the verb.
	rt.add(get, "/images/json", s.listImages)
	rt.add(post, "/images/create", s.createImage)
	rt.add(post, "/images/load", s.loadImages)
	rt.add(post, "/images/prune", s.pruneImages)
	rt.add(get, "/images/get", s.saveImages)
	rt.add(get, "/images/search", s.searchImages)
	rt.add(get, "/images/{name*}/json", s.inspectImage)
	rt.add(get, "/images/{name*}/history", s.imageHistory)
	rt.add(get, "/images/{name*}/get", s.saveImages)
	rt.add(post, "/images/{name*}/tag", s.tagImage)
	rt.add(post, "/images/{name*}/push", s.pushImage)
	rt.add(del, "/images/{name*}", s.removeImage)
	rt.add(post, "/build", s.buildImage)
	rt.add(post, "/build/prune", s.pruneBuildCache)
	rt.add(post, "/commit", s.commitContainer)

	// Networks and volumes.
	rt.add(get, "/networks", s.listNetworks)
	rt.add(post, "/networks/create", s.createNetwork)
	rt.add(post, "/networks/prune", s.pruneNetworks)
	rt.add(get, "/networks/{id}", s.inspectNetwork)
	rt.add(del, "/networks/{id}", s.removeNetwork)
	rt.add(post, "/networks/{id}/connect", s.connectNetwork)
	rt.add(post, "/networks/{id}/disconnect", s.disconnectNetwork)
	rt.add(get, "/volumes", s.listVolumes)
	rt.add(post, "/volumes/create", s.createVolume)
	rt.add(post, "/volumes/prune", s.pruneVolumes)
	rt.add(get, "/volumes/{name}", s.inspectVolume)
	rt.add(del, "/volumes/{name}", s.removeVolume)

	// Services, tasks and nodes: skiff is a one-node swarm, always
	// active (swarm.go, services.go).
	rt.add(get, "/services", s.listServices)
	rt.add(post, "/services/create", s.createService)
	rt.add(get, "/services/{id}", s.inspectService)
	rt.add(del, "/services/{id}", s.removeService)
	rt.add(post, "/services/{id}/update", s.updateService)
	rt.add(get, "/services/{id}/logs", s.serviceLogs)
	rt.add(get, "/tasks", s.listTasks)
	rt.add(get, "/tasks/{id}", s.inspectTask)
	rt.add(get, "/tasks/{id}/logs", s.taskLogs)
	rt.add(get, "/nodes", s.listNodes)
	rt.add(get, "/nodes/{id}", s.inspectNode)
	rt.add(del, "/nodes/{id}", s.nodeFixed("remove"))
	rt.add(post, "/nodes/{id}/update", s.nodeFixed("update"))
	rt.add(get, "/swarm", s.inspectSwarm)
	rt.add(post, "/swarm/init", swarmFixed(swarmInitMsg))
	rt.add(post, "/swarm/join", swarmFixed(swarmJoinMsg))
	rt.add(post, "/swarm/leave", swarmFixed(swarmLeaveMsg))
	rt.add(post, "/swarm/update", swarmFixed(swarmUpdateMsg))
	rt.add(post, "/swarm/unlock", swarmFixed(swarmUnlockMsg))
	rt.add(get, "/swarm/unlockkey", swarmFixed(swarmUnlockMsg))
	return rt
}
