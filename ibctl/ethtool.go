package ibctl

import "github.com/spf13/cobra"

// NewCmdEthtool is `ibctl ethtool`. (being written)
func NewCmdEthtool(f *Factory) *cobra.Command {
	return &cobra.Command{Use: "ethtool", Short: "Query or control IPoIB device settings (ethtool)", Hidden: true}
}
