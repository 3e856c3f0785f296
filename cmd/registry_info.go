package cmd

import (
	"fmt"
	"io"
	"sort"

	mregistry "github.com/moby/moby/api/types/registry"
)

// printRegistryConfig prints info's registry lines as docker info does:
// the insecure registries (hosts, then CIDRs) and docker.io's mirrors.
func printRegistryConfig(w io.Writer, rc *mregistry.ServiceConfig) {
	if rc == nil {
		return
	}
	var insecure []string
	for name, ic := range rc.IndexConfigs {
		if !ic.Secure {
			insecure = append(insecure, name)
		}
	}
	sort.Strings(insecure)
	fmt.Fprintln(w, "Insecure Registries:")
	for _, name := range insecure {
		fmt.Fprintln(w, "  "+name)
	}
	for _, p := range rc.InsecureRegistryCIDRs {
		fmt.Fprintln(w, "  "+p.String())
	}
	if len(rc.Mirrors) > 0 {
		fmt.Fprintln(w, "Registry Mirrors:")
		for _, m := range rc.Mirrors {
			fmt.Fprintln(w, "  "+m)
		}
	}
}
