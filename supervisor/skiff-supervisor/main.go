// Command skiff-supervisor holds one container for its whole life: the
// small process `skiff run` and `skiff start` leave behind (see package
// supervisor). It is not meant to be run by hand.
package main

import (
	"os"

	"github.com/skiff-project/skiff/supervisor"
)

func main() { os.Exit(supervisor.Main(os.Args)) }
