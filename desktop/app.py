"""The desktop app: QApplication, one qasync loop, the runtime, the window, the tray.

:func:`run_app` is what ``frontdesk`` and ``frontdesk demo`` call. It is also the
composition root of the UI: every page gets its services through its constructor.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import gc
import hashlib
import logging
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDesktopServices, QFont, QIcon, QPainter, QPixmap
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QMenu,
    QMessageBox,
    QSystemTrayIcon,
    QWidget,
)

from desktop import logs
from desktop.config import AppConfig
from desktop.runtime import Runtime, favour_the_event_loop
from services.desk_status import missed_call_news
from services.snapshots import Counts, MessageItem

log = logging.getLogger("frontdesk.app")

EXIT_OK, EXIT_FAILED = 0, 1

DEMO_NOT_LIVE = (
    "Demo workspace: nothing reaches real phones. To use your Twilio number, open "
    "Settings → Twilio & connection."
)


# ---- memory -------------------------------------------------------------------------------
def freeze_startup_heap() -> None:
    """Keep what start-up built out of the garbage collector's full passes.

    The modules, widgets and runtime alive once the window is built (several hundred
    thousand objects: Qt bindings, SQLAlchemy, aiohttp, twilio) live until exit, yet every
    full collection walked them all again: 65-85 ms with the GUI thread stopped, now and
    then while the inbox scrolled. ``gc.freeze()`` moves them to the permanent
    generation; everything created later is collected as before.
    """
    gc.freeze()


# ---- single instance ----------------------------------------------------------------------
def instance_name(config: AppConfig) -> str:
    """One local-socket name per data dir (two data dirs may run side by side)."""
    digest = hashlib.sha1(str(config.data_dir.resolve()).encode("utf-8")).hexdigest()[:16]
    return f"frontdesk-{digest}"


class SingleInstance(QObject):
    """Claims the data dir's local server; a second launch asks the first to show itself."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.server: QLocalServer | None = None
        self.on_raise: Callable[[], None] | None = None

    def claim(self) -> bool:
        """True when this process is the only one; False after asking the first to raise."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if socket.waitForConnected(500):
            socket.write(QByteArray(b"raise\n"))
            socket.flush()
            socket.waitForBytesWritten(1000)
            socket.disconnectFromServer()
            return False
        QLocalServer.removeServer(self.name)  # a stale socket left by a crash
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(self.name):
            log.warning("single-instance server: %s", self.server.errorString())
            return True
        self.server.newConnection.connect(self._incoming)
        return True

    def _incoming(self) -> None:
        assert self.server is not None
        while self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            if conn is None:
                break
            conn.readyRead.connect(lambda c=conn: self._read(c))
            conn.disconnected.connect(conn.deleteLater)

    def _read(self, conn: QLocalSocket) -> None:
        data = bytes(conn.readAll().data())
        if b"raise" in data and self.on_raise is not None:
            self.on_raise()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


# ---- errors -----------------------------------------------------------------------------
class ErrorReporter:
    """``sys.excepthook`` and the loop's exception handler: log, then a dialog the user can
    act on (carry on, open the log folder, or quit)."""

    def __init__(self, config: AppConfig, quit: Callable[[], None]) -> None:
        self._config = config
        self._quit = quit
        self._showing = False

    def excepthook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            self._quit()
            return
        log.error("unexpected error", exc_info=(kind, exc, tb))
        self.show(exc, "".join(traceback.format_exception(kind, exc, tb)))

    def loop_handler(self, _loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        message = context.get("message", "")
        if isinstance(exc, BaseException):
            log.error("unexpected error in the event loop: %s", message, exc_info=exc)
            self.show(exc, "".join(traceback.format_exception(exc)))
        else:
            log.error("event loop: %s", message)

    def show(self, exc: BaseException, details: str) -> None:
        if self._showing or QApplication.instance() is None:
            return
        self._showing = True
        try:
            box = QMessageBox(QMessageBox.Icon.Critical, "Frontdesk", "Something went wrong.")
            box.setInformativeText(
                f"{exc}\n\nFrontdesk keeps running; the details are in the log. If this keeps "
                "happening, send the log file to whoever supports your installation."
                if str(exc)
                else "Frontdesk keeps running; the details are in the log."
            )
            box.setDetailedText(details)
            carry_on = box.addButton("Continue", QMessageBox.ButtonRole.AcceptRole)
            logs_button = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
            quit_button = box.addButton("Quit Frontdesk", QMessageBox.ButtonRole.DestructiveRole)
            box.setDefaultButton(carry_on)
            box.exec()
            if box.clickedButton() is logs_button:
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._config.log_dir)))
            elif box.clickedButton() is quit_button:
                self._quit()
        finally:
            self._showing = False


# ---- tray -------------------------------------------------------------------------------------
def badged_icon(base: QIcon, count: int, size: int = 64) -> QIcon:
    """The app icon with an unread count in a red disc (the tray's badge)."""
    if count <= 0:
        return base
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    base.paint(p, 0, 0, size, size)
    d = int(size * 0.55)
    p.setBrush(QColor("#dc2626"))
    p.setPen(QColor("#ffffff"))
    p.drawEllipse(size - d - 1, 1, d, d)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(int(d * (0.6 if count < 10 else 0.45)))
    p.setFont(font)
    p.drawText(size - d - 1, 1, d, d, int(Qt.AlignmentFlag.AlignCenter), str(min(count, 99)))
    p.end()
    return QIcon(pm)


class Tray(QObject):
    """Tray icon: unread count in the tooltip and a badge; menu Open / Quit."""

    def __init__(self, icon: QIcon, open_window: Callable[[], None], quit: Callable[[], None]):
        super().__init__()
        self._icon = icon
        self.tray = QSystemTrayIcon(icon)
        self.tray.setToolTip("Frontdesk")
        menu = QMenu()
        menu.addAction("Open Frontdesk", open_window)
        menu.addSeparator()
        menu.addAction("Quit", quit)
        self._menu = menu
        self.tray.setContextMenu(menu)
        self.tray.activated.connect(
            lambda reason: (
                open_window()
                if reason
                in (
                    QSystemTrayIcon.ActivationReason.Trigger,
                    QSystemTrayIcon.ActivationReason.DoubleClick,
                )
                else None
            )
        )
        self.tray.messageClicked.connect(open_window)
        self.tray.show()

    def set_counts(self, counts: Counts) -> None:
        parts = []
        if counts.unread:
            parts.append(f"{counts.unread} unread")
        if counts.pending_callback:
            parts.append(f"{counts.pending_callback} to call back")
        self.tray.setToolTip("Frontdesk" + (f" — {', '.join(parts)}" if parts else ""))
        self.tray.setIcon(badged_icon(self._icon, counts.unread))

    def notify(self, title: str, text: str) -> None:
        self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    def hide(self) -> None:
        self.tray.hide()


class Notifier(QObject):
    """A desktop notification (and a beep) for a new reply or a new missed call.

    Obeys ``notifications.enabled`` / ``notifications.sound``. A reply is a conversation
    whose newest inbound text is newer than the last one seen (the unread count also goes
    up for a missed call, and the preview may already be the text-back going out); a
    missed call is a call seen missed for the first time.
    """

    def __init__(
        self, runtime: Runtime, bridge: Any, show: Callable[[str, str, int | None], None]
    ) -> None:
        super().__init__()
        self._inbox = runtime.inbox
        self._show = show
        self._inbound: dict[int, datetime | None] = {}  # their newest text, per contact
        self._missed: set[int] = set()
        self.enabled = True
        self.sound = True
        self._tasks: set[asyncio.Task[Any]] = set()
        bridge.conversationChanged.connect(self._conversation)
        bridge.callChanged.connect(self._call)
        bridge.settingsChanged.connect(lambda _keys: self.load_settings())
        bridge.everythingChanged.connect(self.load_settings)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("notification check failed: %s", task.exception())

    def load_settings(self) -> None:
        async def load() -> None:
            s = await self._inbox.settings()
            self.enabled, self.sound = s["notifications.enabled"], s["notifications.sound"]

        self._spawn(load())

    async def prime(self) -> None:
        """Remember what is already unread/missed so start-up does not ring."""
        for row in await self._inbox.conversations(limit=500):
            self._inbound[row.contact_id] = row.last_inbound_at
        for call in await self._inbox.missed_calls(limit=200):
            self._missed.add(call.id)

    def _conversation(self, _conversation_id: int, contact_id: int) -> None:
        async def check() -> None:
            row = await self._inbox.conversation(contact_id)
            before = self._inbound.get(contact_id)
            self._inbound[contact_id] = row.last_inbound_at
            newer = row.last_inbound_at is not None and (
                before is None or row.last_inbound_at > before
            )
            if not newer:
                # Read, a missed call (_call announces it) or a text of ours: not news.
                return
            items = await self._inbox.thread(contact_id, limit=20)
            theirs = [i for i in items if isinstance(i, MessageItem) and i.direction == "in"]
            text = " ".join(theirs[-1].body.split()) if theirs else ""
            if theirs and not text and theirs[-1].media:
                text = "📷 Photo"
            self._ring(f"New text from {row.title}", text[:200], contact_id)

        self._spawn(check())

    def _call(self, call_id: int) -> None:
        async def check() -> None:
            call = await self._inbox.call(call_id)
            if call.outcome == "missed" and call.id not in self._missed:
                self._missed.add(call.id)
                who = call.name or call.display_phone
                news = missed_call_news(call.textback_state, call.textback_reason)
                self._ring(f"Missed call from {who}", news, call.contact_id)

        self._spawn(check())

    def _ring(self, title: str, text: str, contact_id: int | None) -> None:
        if not self.enabled:
            return
        self._show(title, text, contact_id)
        if self.sound:
            QApplication.beep()

    def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()


# ---- the shell ------------------------------------------------------------------------------
class Shell:
    """Builds and runs everything inside the loop; :meth:`main` returns the exit code."""

    def __init__(self, app: QApplication, config: AppConfig, *, demo: bool) -> None:
        self.app = app
        self.config = config
        self.demo = demo
        self.runtime: Runtime | None = None
        self.window: Any = None
        self.tray: Tray | None = None
        self.notifier: Notifier | None = None
        self.bridge: Any = None
        self.demo_note = ""
        # The secrets the log redacts (run_app shares its list); the wizard adds to it.
        self.log_secrets: list[str] = []
        self._credentials: Any = None
        self._quit = asyncio.Event()
        self.on_window: Callable[[Any], None] | None = None  # screenshots and tests

    @property
    def credentials(self) -> Any:
        """The credential store the app runs on (the OS keyring and environment, or the
        wizard's in-memory one on a PC without a keyring)."""
        if self._credentials is None:
            from services.credentials import CredentialStore

            self._credentials = CredentialStore()
        return self._credentials

    @credentials.setter
    def credentials(self, store: Any) -> None:
        self._credentials = store

    def request_quit(self) -> None:
        self._quit.set()

    def raise_window(self) -> None:
        if self.window is not None:
            self.window.bring_to_front()

    async def _build_runtime(self) -> tuple[Runtime, Any]:
        demo_answers: dict[str, Any] = {}
        if not self.demo:
            from desktop.live import LiveSetupError, build_live_runtime

            store = self.credentials
            try:
                return await build_live_runtime(self.config, store), None
            except LiveSetupError as exc:
                self.demo_note = str(exc)
            outcome = await self._first_run(store)
            if outcome is not None and outcome.store is not None:
                self.credentials = outcome.store
                try:
                    runtime = await build_live_runtime(self.config, outcome.store)
                except LiveSetupError as exc:
                    self.demo_note = str(exc)
                else:
                    if outcome.notice:
                        QMessageBox.information(None, "Frontdesk", outcome.notice)
                    return runtime, None
            if outcome is not None:
                demo_answers = outcome.demo_answers
                if outcome.error:
                    QMessageBox.warning(None, "Frontdesk", outcome.error)
            log.info("not live (%s): opening the demo workspace", self.demo_note)
        try:
            from desktop.demo import build_demo_runtime
        except ImportError as exc:  # the demo is not part of this build
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Frontdesk",
                "Frontdesk cannot connect to Twilio yet, and the demo workspace is not "
                "available in this build.",
            )
            box.setInformativeText(self.demo_note or str(exc))
            box.exec()
            raise SystemExit(EXIT_FAILED) from None
        runtime, carrier = await build_demo_runtime(self.config, answers=demo_answers)
        return runtime, carrier

    def _interactive(self) -> bool:
        return QApplication.platformName() not in ("offscreen", "minimal")

    async def _first_run(self, store: Any) -> Any:
        """On a workspace never set up, ask what the wizard asks and store the answers
        (:func:`desktop.first_run.store_answers`); returns its outcome, or ``None`` when
        the wizard was not shown or was cancelled. Skipped with no screen to show it on."""
        from desktop.first_run import store_answers
        from desktop.live import needs_first_run
        from ui.wizard import FirstRunWizard

        if not self._interactive() or not await needs_first_run(self.config, store):
            return None
        from desktop.office_database import DesktopOfficeDatabase

        wizard = FirstRunWizard(office=DesktopOfficeDatabase(self.config, store))
        finished: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def done(code: int) -> None:
            if not finished.done():
                finished.set_result(code)

        wizard.finished.connect(done)
        wizard.open()  # not exec(): the loop keeps running while the owner types
        try:
            if await finished != QDialog.DialogCode.Accepted.value:
                return None
            result = wizard.wizard_result()
        finally:
            wizard.deleteLater()
        outcome = await store_answers(self.config, store, result)
        self.log_secrets.extend(outcome.secrets)
        if outcome.database_url:  # joined the office's database: run on it from now on
            self.config = dataclasses.replace(self.config, database_url=outcome.database_url)
            password = await asyncio.to_thread(store.load_database_password)
            if password:
                self.log_secrets.append(password)
        return outcome

    async def main(self) -> int:
        from ui import theme
        from ui.event_bridge import EventBridge

        theme.apply(self.app)
        try:
            runtime, carrier = await self._build_runtime()
        except SystemExit as exc:
            return int(exc.code or 0)
        self.runtime = runtime
        try:
            await runtime.start()
        except OSError as exc:
            QMessageBox.critical(
                None,
                "Frontdesk",
                f"Frontdesk could not start listening on {self.config.host}:"
                f"{self.config.port}: {exc.strerror or exc}.\nIs another copy running with "
                "another data folder? Set FRONTDESK_PORT to use another port.",
            )
            await runtime.stop()
            return EXIT_FAILED
        try:
            self.bridge = EventBridge(runtime.bus)
            self.build_window(runtime, carrier)
            freeze_startup_heap()
            await self._quit.wait()
        finally:
            await self._shutdown()
        return EXIT_OK

    def build_window(self, runtime: Runtime, carrier: Any) -> None:
        """The window and its pages over a started ``runtime`` (screenshots call this)."""
        from desktop.cli import version
        from ui.inbox.drafts import DraftStore
        from ui.inbox.page import InboxPage
        from ui.main_window import MainWindow
        from ui.widgets import icons

        bridge = self.bridge
        # This PC's own file (window state, drafts): not the shared database.
        store = QSettings(str(self.config.data_dir / "window.ini"), QSettings.Format.IniFormat)
        inbox_page = InboxPage(
            runtime.inbox,
            runtime.engine,
            bridge,
            drafts=DraftStore(store),
            presence=runtime.presence,
            locations=runtime.locations,
            now=runtime.clock.now,
        )

        # pages: every screen, each built with the services it needs. Only the Inbox is
        # built now; the others when first shown (MainWindow builds them through these
        # functions), so start-up pays for the page the window opens on and not the rest.
        pages: list[tuple[str, str, QWidget | Callable[[], QWidget]]] = [
            ("inbox", "Inbox", inbox_page),
            ("missed_calls", "Missed calls", lambda: self._missed_calls_page(runtime, inbox_page)),
            ("contacts", "Contacts", lambda: self._contacts_page(runtime, inbox_page)),
            ("analytics", "Analytics", lambda: self._analytics_page(runtime)),
            ("connection", "Connection", lambda: self._connection_page(runtime)),
            ("settings", "Settings", lambda: self._settings_page(runtime, carrier)),
        ]
        window = MainWindow(pages, runtime.inbox, bridge, store, version=version())
        self.window = window
        from services.export_file import export_to

        window.set_exporter(functools.partial(export_to, runtime.db))
        window.quitRequested.connect(self.request_quit)
        if carrier is not None:
            self._add_demo_bar(window, carrier)
        from desktop.health import RuntimeHealth
        from ui.messaging_banner import MessagingBanner

        banner = MessagingBanner(RuntimeHealth(runtime))
        window.add_banner(banner)
        bridge.conversationChanged.connect(lambda *_args: banner.refresh())
        banner.refresh()
        tray_ok = QSystemTrayIcon.isSystemTrayAvailable()
        if tray_ok:
            self.tray = Tray(icons.app_icon(), self.raise_window, self.request_quit)
            window.countsChanged.connect(self.tray.set_counts)
        window.close_to_tray = tray_ok
        self._add_office_status(window, runtime, bridge)

        notices = self._add_notice_banner(window, inbox_page, runtime, bridge)

        def show_note(title: str, text: str, contact_id: int | None) -> None:
            # With a tray its balloon says it; without one, the window's banner does.
            if self.tray is not None:
                self.tray.notify(title, text)
            else:
                notices.notify(title, text, contact_id)

        self.notifier = Notifier(runtime, bridge, show_note)
        self.notifier.load_settings()

        async def prime() -> None:
            if self.notifier is not None:
                await self.notifier.prime()

        window.show()
        window.start()
        # After the pages' first loads: storage runs one query at a time, and the
        # inbox's first page matters more than remembering what was already unread.
        self._prime = asyncio.ensure_future(prime())
        if self.demo_note:
            # Plain words in the bar (it is cut off on a narrow window); the technical
            # reason, with the environment variables, is in the tooltip and the log.
            window.statusBar().showMessage(DEMO_NOT_LIVE)
            window.statusBar().setToolTip(self.demo_note)
        elif self.demo or carrier is not None:
            window.statusBar().showMessage("Demo workspace: nothing reaches real phones.")
        if self.on_window is not None:
            self.on_window(window)

    # ---- the pages built on first show (build_window hands these to MainWindow) ----------
    def _missed_calls_page(self, runtime: Runtime, inbox_page: Any) -> QWidget:
        from ui.missed_calls_page import MissedCallsPage

        return MissedCallsPage(
            runtime.inbox,
            runtime.engine,
            self.bridge,
            actor=lambda: inbox_page.actor,
            locations=runtime.locations,
        )

    def _contacts_page(self, runtime: Runtime, inbox_page: Any) -> QWidget:
        from ui.contacts_page import ContactsPage

        page = ContactsPage(
            runtime.inbox, self.bridge, messaging=runtime.engine, actor=lambda: inbox_page.actor
        )
        # Deleted on the Contacts page: the Inbox drops its row (and the open thread).
        page.contactDeleted.connect(inbox_page.contact_deleted)
        return page

    def _analytics_page(self, runtime: Runtime) -> QWidget:
        from services.analytics import Analytics
        from ui.analytics_page import AnalyticsPage

        return AnalyticsPage(Analytics(runtime.db, runtime.clock), self.bridge)

    def _connection_page(self, runtime: Runtime) -> QWidget:
        from desktop.health import RuntimeHealth
        from ui.health_page import HealthPage

        page = HealthPage(RuntimeHealth(runtime))
        self._follow_office(page, runtime)
        return page

    def _settings_page(self, runtime: Runtime, carrier: Any) -> QWidget:
        from desktop.connection import DesktopConnection
        from desktop.office_database import DesktopOfficeDatabase
        from ui.connection_box import ConnectionBox
        from ui.office_db_box import OfficeDatabaseBox
        from ui.settings.integrations import IntegrationsBox
        from ui.settings_page import SettingsPage

        connection = ConnectionBox(
            DesktopConnection(
                self.credentials,
                runtime.inbox,
                runtime if carrier is None else None,  # live: the runtime to re-wire
                twilio_base_url=self.config.twilio_base_url,
            )
        )
        return SettingsPage(
            runtime.inbox,
            self.bridge,
            connection=connection,
            office_database=OfficeDatabaseBox(DesktopOfficeDatabase(self.config, self.credentials)),
            integrations=IntegrationsBox(runtime.integrations),
            locations=runtime.locations,
        )

    @staticmethod
    def _add_notice_banner(window: Any, inbox_page: Any, runtime: Runtime, bridge: Any) -> Any:
        """The in-window banner: whether text-back works right now (always), and news of
        missed calls and texts when there is no tray to show them."""
        from desktop.health import RuntimeHealth
        from services.events import Event, OfficeChanged
        from ui.notice_banner import NoticeBanner

        banner = NoticeBanner(RuntimeHealth(runtime))
        window.add_banner(banner)
        banner.openContact.connect(window.open_conversation)
        banner.openPage.connect(window.show_page)
        inbox_page.contactOpened.connect(banner.seen)
        bridge.settingsChanged.connect(lambda _keys: banner.refresh())
        bridge.everythingChanged.connect(banner.refresh)

        def on_event(event: Event) -> None:
            if isinstance(event, OfficeChanged):
                banner.refresh()

        unsubscribe = runtime.bus.subscribe(on_event)
        banner.destroyed.connect(lambda *_: unsubscribe())
        banner.refresh()
        return banner

    @staticmethod
    def _follow_office(health_page: Any, runtime: Runtime) -> None:
        """The Connection page re-reads when the number changes hands (while shown)."""
        from services.events import Event, OfficeChanged

        def on_event(event: Event) -> None:
            if isinstance(event, OfficeChanged) and health_page.isVisible():
                health_page.refresh()

        unsubscribe = runtime.bus.subscribe(on_event)
        health_page.destroyed.connect(lambda *_: unsubscribe())

    def _add_office_status(self, window: Any, runtime: Runtime, bridge: Any) -> None:
        """The status bar's corner: who holds the number (take it over), who is at this PC."""
        from services.events import Event, OfficeChanged
        from ui.widgets.office_status import OfficeStatus
        from ui.widgets.tasks import TaskRunner

        status = OfficeStatus(window)
        tasks = TaskRunner(status)
        office = runtime.office
        status.show_holder(office.holder, office.holding, office.shared)

        def on_event(event: Event) -> None:
            if isinstance(event, OfficeChanged):
                status.show_holder(event.holder, event.holding, office.shared)

        unsubscribe = runtime.bus.subscribe(on_event)
        status.destroyed.connect(lambda *_: unsubscribe())

        def load_people() -> None:
            def show(settings: Any) -> None:
                status.show_people(list(settings["team.members"]), settings["team.me"])

            tasks.spawn(runtime.inbox.settings(), what="load the team", done=show)

        bridge.settingsChanged.connect(
            lambda keys: load_people() if {"team.me", "team.members"} & set(keys) else None
        )
        bridge.everythingChanged.connect(load_people)
        status.personChosen.connect(
            lambda name: tasks.spawn(
                runtime.inbox.update_settings({"team.me": name}, actor=name or "desk"),
                what="switch the person at this PC",
            )
        )
        status.takeOverRequested.connect(
            lambda: tasks.spawn(runtime.request_takeover(), what="take over the number")
        )
        load_people()
        window.statusBar().addPermanentWidget(status)

    def _add_demo_bar(self, window: Any, carrier: Any) -> None:
        try:
            from desktop.demo import DemoActions
            from ui.demo_bar import DemoBar
        except ImportError:
            return
        actions = DemoActions(carrier)
        bar = DemoBar(actions.missed_call, actions.reply)
        window.add_banner(bar)

    async def _shutdown(self) -> None:
        if self.window is not None:
            self.window.shutdown()
            self.window.hide()
        if self.notifier is not None:
            self.notifier.close()
        if self.tray is not None:
            self.tray.hide()
        if self.bridge is not None:
            self.bridge.detach()
        if self.runtime is not None:
            await self.runtime.stop()


def run_app(config: AppConfig, *, demo: bool, verbose: bool) -> int:
    """Open the desktop app; returns the process exit code."""
    import qasync

    from desktop import startup_probe
    from services.credentials import CredentialStore
    from ui.widgets import icons
    from ui.widgets.gc_guard import GuiThreadCollector

    secrets = logs.secrets_in(CredentialStore())
    logs.configure(config.log_dir, lambda: secrets, verbose=verbose)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Frontdesk")
    app.setOrganizationName("Frontdesk")
    app.setApplicationDisplayName("Frontdesk")
    app.setDesktopFileName("frontdesk")
    app.setWindowIcon(icons.app_icon())
    # Closing the window either hides it (tray) or asks the shell to quit; the shell
    # decides when the loop ends, after the runtime has stopped.
    app.setQuitOnLastWindowClosed(False)

    instance = SingleInstance(instance_name(config))
    if not instance.claim():
        print("frontdesk: already running; showing its window", file=sys.stderr)
        return EXIT_OK
    startup_probe.install(app)

    favour_the_event_loop()
    # Garbage holding Qt objects must be freed on this thread, never by a worker's
    # collection (a deadlock with Qt's locks: ui/widgets/gc_guard.py).
    collector = GuiThreadCollector(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    shell = Shell(app, config, demo=demo)
    shell.log_secrets = secrets
    instance.on_raise = shell.raise_window
    reporter = ErrorReporter(config, shell.request_quit)
    previous_hook = sys.excepthook
    sys.excepthook = reporter.excepthook
    loop.set_exception_handler(reporter.loop_handler)
    app.aboutToQuit.connect(shell.request_quit)  # e.g. the session ends, or the probe quits
    try:
        with loop:
            main = loop.create_task(shell.main())
            for _attempt in range(3):
                try:
                    code: int = loop.run_until_complete(main)
                    return code
                except RuntimeError:
                    # Something called QApplication.quit() (the session is ending, or the
                    # startup probe): the shell was asked to quit via aboutToQuit; run the
                    # loop again so the runtime stops cleanly before it closes.
                    if main.done():
                        raise
            main.cancel()
            return EXIT_FAILED
    finally:
        sys.excepthook = previous_hook
        collector.stop()
        instance.close()
        asyncio.set_event_loop(None)
