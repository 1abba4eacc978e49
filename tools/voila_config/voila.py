"""Voila's configuration for `make present` (loaded with --Voila.config_file_paths=tools/voila_config).

Voila shuts a page's kernel when the page closes: its beforeunload handler posts a beacon to
/voila/api/shutdown/<kernel> with the page's _xsrf cookie. But a notebook page opened directly
(`voila notebook.ipynb`, or a /voila/render/ link) never sets that cookie, so the beacon is refused
("403 POST /voila/api/shutdown/...: '_xsrf' argument missing from POST", voila-dashboards/voila
issue 1458) and the kernel lives on until the culler finds it. Reading the request's xsrf_token
before the page is rendered makes tornado set the cookie on the page's own response.
"""


def _set_xsrf_cookie(request_handler, notebook, cwd):
    request_handler.xsrf_token        # tornado sets the _xsrf cookie on first access
    return notebook


c.VoilaConfiguration.prelaunch_hook = _set_xsrf_cookie  # noqa: F821 (c: the traitlets config object)
