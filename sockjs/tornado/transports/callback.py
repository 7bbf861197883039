"""The ``c`` callback argument of ``jsonp`` and ``htmlfile``."""

import re

__all__ = ["CallbackMixin"]

_VALID = re.compile(r"[a-zA-Z0-9\-_.]+\Z")


class CallbackMixin:
    """Validates ``?c=``: missing gives 500 ``"callback" parameter
    required``, any character outside ``[a-zA-Z0-9-_.]`` gives 500
    ``invalid "callback" parameter``. Names like ``_jp.a1b2c3`` (what the
    real client sends) pass unchanged."""

    callback = ""

    def check_request(self) -> bool:
        callback = self.get_query_argument("c")  # type: ignore[attr-defined]
        if not callback:
            self.send_error_text(500, '"callback" parameter required')  # type: ignore[attr-defined]
            return False
        if not _VALID.match(callback):
            self.send_error_text(500, 'invalid "callback" parameter')  # type: ignore[attr-defined]
            return False
        self.callback = callback
        return True
