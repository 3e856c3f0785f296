package cmd

import "path"

// pathMatch matches a repository against a shell pattern, as Docker's
// reference filter does.
func pathMatch(pattern, name string) (bool, error) { return path.Match(pattern, name) }
