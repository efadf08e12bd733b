"""Query subcommands of the CLI (search, ask, eval); filled in with the retrieval issue."""

COMMANDS: dict = {}


def add_commands(sub, common) -> None:
    return None
