"""Brokers: how a publication reaches the other processes of a service.

A :class:`Broker` only carries publications between processes; the router's
:class:`~sockjs.tornado.channels.Channels` hub delivers to the sessions of
its own process, synchronously, whatever the broker. So:

* :class:`LocalBroker` (the default) carries nothing: one process behaves
  exactly as 1.x did, with no dependency and no task running.
* :class:`~sockjs.tornado.broker.redisbroker.RedisBroker` carries them over
  Redis pub/sub (``pip install sockjs-tornado[redis]``).

Select one with the router setting ``broker``: ``None`` (in-process), a
``redis://`` URL, or a :class:`Broker` instance.
"""

from typing import Any, Mapping

from sockjs.tornado.broker.base import Broker, Deliver, LocalBroker

__all__ = ["Broker", "Deliver", "LocalBroker", "make_broker"]


def make_broker(settings: Mapping[str, Any], namespace: str) -> Broker:
    """The broker the router settings ask for.

    ``namespace`` names this service's traffic on a shared broker (the
    ``broker_namespace`` setting, or one derived from the router prefix).
    """
    spec = settings["broker"]
    if spec is None:
        return LocalBroker()
    if isinstance(spec, Broker):
        return spec
    if isinstance(spec, str) and spec.startswith(("redis://", "rediss://", "unix://")):
        from sockjs.tornado.broker.redisbroker import RedisBroker

        return RedisBroker(
            spec, namespace, buffer_size=settings["broker_buffer_size"], retry_max=settings["broker_retry_max"]
        )
    raise ValueError("setting 'broker' must be None, a redis:// URL or a Broker, not %r" % (spec,))
