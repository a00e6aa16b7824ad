"""Decision engine: block/allow lists, rules, product policy, offers, shadow."""
