"""`yaml.safe_load` without aliases, for the small YAML files users write (notes, sessions)."""

from __future__ import annotations

import yaml


class NoAliasLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses aliases (`*name`): anchors nested through aliases build a
    value of billions of items from a few lines ("billion laughs")."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed; write the value out",
                self.peek_event().start_mark)
        return super().compose_node(parent, index)
