"""The control plane: compacted topics every worker follows from the start (block/allow
lists, releases of rules, policy and models)."""
