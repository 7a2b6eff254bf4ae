"""Commands: subscribers add/remove/forget/list/count/import/export."""

commands: list = []
