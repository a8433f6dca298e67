"""`fleetsync completion bash|zsh`: print a shell completion script (click's own).

source <(fleetsync completion bash)      # in ~/.bashrc
source <(fleetsync completion zsh)       # in ~/.zshrc
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def command(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL; load it with `source <(fleetsync completion
    SHELL)`."""
    root = ctx.find_root()
    completion = get_completion_class(shell)
    if completion is None or root.command is None:
        raise click.ClickException(f"{shell}: no completion support")
    script = completion(root.command, {}, "fleetsync", "_FLEETSYNC_COMPLETE").source()
    click.echo(script)
