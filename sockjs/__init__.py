"""The ``sockjs`` namespace; the server lives in :mod:`sockjs.tornado`."""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)
