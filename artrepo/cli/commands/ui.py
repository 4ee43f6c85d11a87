from __future__ import annotations

import click


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but 127.0.0.1 shows the repository to your network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8484, show_default=True,
              help="Port to listen on (0 picks a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in a web browser.")
def ui_cmd(host: str, port: int, open_browser: bool) -> None:
    """Serve a read-only web dashboard of artifacts, runs and lineage."""
    from artrepo.errors import UserError
    from artrepo.repository import find_root

    root = find_root()
    try:
        import grandalf  # noqa: F401
        import jinja2  # noqa: F401
    except ImportError as exc:
        raise UserError(f"the dashboard needs {exc.name}: pip install 'artrepo[ui]'") from None
    from artrepo.ui.server import make_server, url_of

    try:
        server = make_server(root, host, port)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    url = url_of(server)
    click.echo(f"artrepo dashboard for {root} at {url} (read-only; Ctrl-C stops it)", err=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    finally:
        server.server_close()
        server.RequestHandlerClass.dashboard.close()
