// Command ibctl configures the IPoIB interfaces of an emulated ib_ipoib
// driver with sysfs, ip link and ethtool semantics.
package main

import (
	"os"

	"github.com/ibctl/ibctl/ibctl"
)

func main() {
	os.Exit(ibctl.Run(ibctl.NewFactory(), os.Args[1:]))
}
