"""Kernel websockets that send each message at once (loaded with the .json beside it).

jupyter_server's kernel websockets keep Nagle's algorithm on: a small message written while an
earlier one is still unacknowledged waits for that acknowledgement, which the browser may delay
by up to 40 ms. A slider's frame is answered by another small message, so that wait falls on
every key press and drag. TCP_NODELAY turns it off. Measured (benchmarks/drag.py, JupyterLab,
2 cores): the median key-press-to-figure time of notebook 03's sliders fell from 78 to 69 ms.
"""
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayKernelConnection(ZMQChannelsWebsocketConnection):
    """The default kernel websocket connection, with TCP_NODELAY set on its socket."""

    def connect(self):
        self.websocket_handler.set_nodelay(True)
        return super().connect()


c.ServerApp.kernel_websocket_connection_class = NoDelayKernelConnection  # noqa: F821 (c: the config)
