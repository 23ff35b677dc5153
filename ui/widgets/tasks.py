"""Run service coroutines from widgets without blocking the GUI thread.

Every task is kept (so it is not garbage-collected mid-flight), its exception is reported
to the user with a sentence that says what failed, and :meth:`TaskRunner.cancel_all`
cancels what is left when a page goes away::

    self._tasks = TaskRunner(self)
    self._tasks.spawn(self._inbox.add_tag(cid, "booked", actor=me), what="add the tag",
                      done=self._show_contact)

``done`` gets the result on success; ``failed`` (optional) gets the exception first and
returns True when it handled it (e.g. showing a ``ReplyRefused`` inline); ``always`` runs
in every case (reset busy state there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from services.api import NotFound

log = logging.getLogger(__name__)

T = TypeVar("T")


def sentence(text: str) -> str:
    """``text`` as a sentence: a capital first letter and a closing full stop."""
    text = " ".join(text.split())
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…" else text + "."


class TaskRunner(QObject):
    """Owns the asyncio tasks a widget starts; reports failures."""

    failed = Signal(str, object)  # what, exception (after it was reported)

    def __init__(self, owner: QWidget | None = None, *, quiet: bool = False) -> None:
        super().__init__(owner)
        self._owner = owner
        self._tasks: set[asyncio.Task[Any]] = set()
        tasks = self._tasks  # not self: the destroyed handler must not touch the C++ object

        def cancel_left() -> None:
            for task in list(tasks):
                task.cancel()

        self.destroyed.connect(cancel_left)
        self.quiet = quiet  # tests and headless use: log instead of showing a dialog

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def spawn(
        self,
        coro: Coroutine[Any, Any, T],
        *,
        what: str,
        done: Callable[[T], None] | None = None,
        failed: Callable[[BaseException], bool] | None = None,
        always: Callable[[], None] | None = None,
    ) -> asyncio.Task[T] | None:
        """Run ``coro`` as a task this runner owns; None when no event loop is left to
        run it (a change still queued for the widget while the app closes): the
        coroutine is closed unrun, never left un-awaited."""
        try:
            task = asyncio.ensure_future(coro)
        except RuntimeError:
            coro.close()
            log.debug("not started, the event loop is gone: %s", what)
            return None
        self._tasks.add(task)

        def finished(t: asyncio.Task[T]) -> None:
            self._tasks.discard(t)
            if not shiboken6.isValid(self):
                # The widget that started it is gone: nothing left to update or tell.
                if not t.cancelled() and t.exception() is not None:
                    log.info("finished after its widget closed: %s: %s", what, t.exception())
                return
            try:
                if t.cancelled():
                    return
                exc = t.exception()
                if exc is None:
                    if done is not None:
                        done(t.result())
                    return
                if failed is not None and failed(exc):
                    return
                self.report(what, exc)
            except Exception as exc:  # a callback failed: still tell the user
                self.report(what, exc)
            finally:
                if always is not None:
                    try:
                        always()
                    except Exception as exc:
                        self.report(what, exc)

        task.add_done_callback(finished)
        return task

    def report(self, what: str, exc: BaseException) -> None:
        if isinstance(exc, NotFound):
            log.info("could not %s: %s", what, exc)
        else:
            log.error("could not %s", what, exc_info=(type(exc), exc, exc.__traceback__))
        self.failed.emit(what, exc)
        if self.quiet or isinstance(exc, NotFound):
            return
        detail = sentence(str(exc)) or "Something unexpected went wrong; the log has the details."
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Frontdesk",
            f"Could not {what}.",
            QMessageBox.StandardButton.Ok,
            self._owner.window() if self._owner is not None else None,
        )
        box.setInformativeText(detail)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
