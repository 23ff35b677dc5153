"""The main window: a sidebar of pages with live counts, the pages in a stack, the About
box, keyboard shortcuts, and geometry/last page remembered between runs.

Pages are plain QWidgets handed in by the composition root as ``(key, title, widget)``,
or ``(key, title, build)`` with ``build()`` returning the widget: such a page is built the
first time it is shown (an empty placeholder holds its place in the stack until then), so
start-up builds only the page the window opens on. Its sidebar entry, shortcut and the
counts are there from the start (they come from ``InboxApi.counts()``, not the pages).
:meth:`MainWindow.page` gives a page, building it if need be; :attr:`MainWindow.pages`
holds the pages built so far. Optional hooks a page may offer (looked up by name, none required):

- ``focus_search()``: called on Ctrl+F while the page is shown;
- ``new_conversation()`` (the Inbox's): called on Ctrl+N, after showing that page;
- ``start()``: called once, after the window is built (load data there), or when a lazy
  page is built after that;
- ``shutdown()``: called when the window closes for good;
- ``unsaved_changes() -> bool``, ``save_changes(then)`` and ``discard_changes()``: closing
  the window with unsaved changes asks whether to save them (``then(ok)`` is called once
  the save is done);
- a Qt signal ``openConversation(int contact_id)`` (or ``openContact(int)``): the window
  switches to the Inbox and opens that contact's thread.

:meth:`MainWindow.add_banner` puts a strip (the demo bar) above the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeAlias

from PySide6.QtCore import (
    QByteArray,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSettings,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QCloseEvent, QFontMetrics, QKeySequence, QPainter, QPalette, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from services.api import InboxApi
from services.snapshots import Counts
from ui import theme
from ui.event_bridge import EventBridge
from ui.widgets import icons
from ui.widgets.tasks import TaskRunner

# path, format (json | csv), progress(step, steps, text) -> bytes written
Exporter = Callable[[str, str, Callable[[int, int, str], None]], Coroutine[Any, Any, int]]

# A page, or what builds it on its first show.
PageSource: TypeAlias = QWidget | Callable[[], QWidget]

KeyRole = Qt.ItemDataRole.UserRole + 1
BadgeRole = Qt.ItemDataRole.UserRole + 2

ICONS = {
    "inbox": "inbox",
    "missed_calls": "missed_call",
    "contacts": "contacts",
    "analytics": "analytics",
    "settings": "settings",
    "connection": "bolt",
}


def default_size(available: QSize) -> QSize:
    """1280x800, or less to fit the screen's free area (a 1366x768 screen at 200% has
    683x384 device-independent pixels left: the window must never start off-screen)."""
    return QSize(min(1280, available.width() - 40), min(800, available.height() - 40))


def _plural(count: int, noun: str, tail: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'} {tail}"


class SidebarDelegate(QStyledItemDelegate):
    """The style's item, plus a count badge on the right."""

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        size = super().sizeHint(option, index)
        return QSize(size.width() + 40, max(size.height(), QFontMetrics(option.font).height() + 18))

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        super().paint(painter, option, index)
        count = index.data(BadgeRole)
        if not count:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = theme.bold(theme.small_font(option.font))
        fm = QFontMetrics(font)
        label = str(count) if count < 1000 else "999+"
        h = fm.height() + 4
        w = max(h, fm.horizontalAdvance(label) + 12)
        rect = option.rect
        badge = QRect(rect.right() - w - 14, rect.center().y() - h // 2, w, h)
        bg, fg = theme.badge_colors(option.palette)
        if option.state & QStyle.StateFlag.State_Selected:
            bg, fg = option.palette.color(QPalette.ColorRole.HighlightedText), bg
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(badge, h / 2, h / 2)
        painter.setFont(font)
        painter.setPen(fg)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()


class MainWindow(QMainWindow):
    """``MainWindow(pages, inbox, bridge, settings_store, version=...)``.

    ``pages``: ``(key, title, widget or build)``, in sidebar order (see the module).
    ``close_to_tray``: when True (a system tray exists) closing hides the window;
    otherwise closing emits ``quitRequested``.
    """

    quitRequested = Signal()
    countsChanged = Signal(object)  # Counts

    def __init__(
        self,
        pages: Sequence[tuple[str, str, PageSource]],
        inbox: InboxApi,
        bridge: EventBridge,
        settings_store: QSettings,
        *,
        version: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Frontdesk")
        self.setWindowIcon(icons.app_icon())
        self._inbox = inbox
        self._bridge = bridge
        self._store = settings_store
        self.version = version
        self.close_to_tray = False
        self.tasks = TaskRunner(self)
        self.counts: Counts | None = None
        self._counts_busy = False
        self._counts_again = False
        self.close_box: QMessageBox | None = None

        self.sidebar = QListWidget(self)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setAccessibleName("Sections")
        self.sidebar.setItemDelegate(SidebarDelegate(self.sidebar))
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(200)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.stack = QStackedWidget(self)
        self.pages: dict[str, QWidget] = {}  # built so far, in sidebar order
        self._titles: dict[str, str] = {}
        self._keys: list[str] = []
        self._builders: dict[str, Callable[[], QWidget]] = {}
        self._started = False
        for i, (key, title, source) in enumerate(pages):
            item = QListWidgetItem(icons.icon(ICONS.get(key, "inbox")), title)
            item.setData(KeyRole, key)
            shortcut = f"Ctrl+{i + 1}" if i < 9 else ""
            item.setToolTip(f"{title} ({shortcut})" if shortcut else title)
            self.sidebar.addItem(item)
            self._keys.append(key)
            self._titles[key] = title
            if isinstance(source, QWidget):
                self.stack.addWidget(source)
                self._adopt(key, source)
            else:
                # Parented to the stack: a bare QWidget costs next to nothing to add.
                self.stack.addWidget(QWidget(self.stack))
                self._builders[key] = source
        self.sidebar.currentRowChanged.connect(self._show_row)

        self.about_label = QLabel(self)
        central = QWidget(self)
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        right = QWidget(central)
        self._right = QVBoxLayout(right)
        self._right.setContentsMargins(0, 0, 0, 0)
        self._right.setSpacing(0)
        self._right.addWidget(self.stack, 1)
        layout.addWidget(right, 1)
        self.setCentralWidget(central)
        self.about_label.hide()

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.export_action = file_menu.addAction("&Export…")
        self.export_action.triggered.connect(self.export)
        self.export_action.setEnabled(False)
        self._exporter: Exporter | None = None
        file_menu.addSeparator()
        quit_action = file_menu.addAction("&Quit")
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quitRequested)
        help_menu = menu.addMenu("&Help")
        about = help_menu.addAction("&About Frontdesk")
        about.triggered.connect(self.show_about)

        self._shortcut("Ctrl+F", self.focus_search)
        self._shortcut("Ctrl+J", self.next_unread)
        self._shortcut("Ctrl+N", self.new_conversation)
        self._shortcut("Ctrl+Return", self.send)
        self._shortcut("Ctrl+Enter", self.send)
        for i in range(min(9, len(pages))):
            self._shortcut(f"Ctrl+{i + 1}", lambda i=i: self.sidebar.setCurrentRow(i))

        self._restore()
        bridge.conversationChanged.connect(self.refresh_counts)
        bridge.contactChanged.connect(self.refresh_counts)
        bridge.callChanged.connect(self.refresh_counts)
        bridge.everythingChanged.connect(self.refresh_counts)
        self._counts_timer = QTimer(self)  # "missed today" ages out: re-count now and then
        self._counts_timer.setInterval(60_000)
        self._counts_timer.timeout.connect(self.refresh_counts)

    def set_exporter(self, exporter: Exporter) -> None:
        """Enable File → Export… with ``exporter(path, fmt, progress)`` doing the work."""
        self._exporter = exporter
        self.export_action.setEnabled(True)

    def export(self) -> None:
        """Ask where, then export off the GUI thread with a progress dialog."""
        if self._exporter is None:
            return
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export", "frontdesk-export.json", "JSON (*.json);;CSV (*.csv)"
        )
        if path:
            fmt = "csv" if chosen.startswith("CSV") or path.lower().endswith(".csv") else "json"
            self.start_export(path, fmt)

    def start_export(self, path: str, fmt: str) -> QProgressDialog:
        """Export to ``path`` with a dialog showing records done of the total; its Cancel
        stops the export (the exporter deletes its partial file)."""
        assert self._exporter is not None
        dialog = QProgressDialog("Exporting…", "Cancel", 0, 0, self)
        dialog.setWindowTitle("Export")
        dialog.setMinimumDuration(0)
        dialog.setMinimumWidth(420)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        self.export_dialog = dialog
        self.export_progress: list[tuple[int, int]] = []

        def progress(done: int, total: int, text: str) -> None:
            self.export_progress.append((done, total))
            if dialog.maximum() != total:
                dialog.setMaximum(total)  # 0 while counting: a busy bar
            dialog.setValue(done)
            dialog.setLabelText(text)

        def done(size: int) -> None:
            self.statusBar().showMessage(f"Exported {size:,} bytes to {path}", 8000)

        def closed() -> None:
            if task is not None and task.cancelled():
                self.statusBar().showMessage("Export cancelled; no file was written.", 8000)
            dialog.close()

        task = self.tasks.spawn(
            self._exporter(path, fmt, progress),
            what="export",
            done=done,
            always=closed,
        )
        if task is None:
            return dialog
        dialog.canceled.connect(task.cancel)
        dialog.show()
        return dialog

    def add_banner(self, widget: QWidget) -> None:
        """Show ``widget`` as a strip above the pages (e.g. the demo bar)."""
        self._right.insertWidget(0, widget)

    def _shortcut(self, keys: str, slot: Any) -> QShortcut:
        shortcut = QShortcut(QKeySequence(keys), self)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(slot)
        return shortcut

    # ---- pages ----------------------------------------------------------------------------
    def _adopt(self, key: str, widget: QWidget) -> None:
        """Take ``widget`` on as the page ``key``: its open-a-thread signal opens the Inbox."""
        self.pages[key] = widget
        self.pages = {k: self.pages[k] for k in self._keys if k in self.pages}  # sidebar order
        for name in ("openConversation", "openContact"):
            hook = getattr(widget, name, None)
            if hook is not None and hasattr(hook, "connect"):
                hook.connect(self.open_conversation)

    def page(self, key: str) -> QWidget:
        """The page ``key``, built now if it is a lazy one not shown yet (KeyError if none)."""
        built = self.pages.get(key)
        if built is not None:
            return built
        widget = self._builders[key]()
        del self._builders[key]  # only once built: a build that raised is tried again
        row = self._keys.index(key)
        placeholder = self.stack.widget(row)
        self.stack.insertWidget(row, widget)
        if placeholder is not None:
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
        self._adopt(key, widget)
        if self._started:
            start = getattr(widget, "start", None)
            if callable(start):
                start()
        return widget

    def _inbox_page(self) -> QWidget | None:
        return self.page("inbox") if "inbox" in self._keys else None

    def start(self) -> None:
        """Start every page built so far that has ``start()`` (a lazy page is started when
        it is built) and load the counts."""
        self._started = True
        for widget in list(self.pages.values()):
            start = getattr(widget, "start", None)
            if callable(start):
                start()
        self.refresh_counts()
        self._counts_timer.start()

    @property
    def current_key(self) -> str | None:
        item = self.sidebar.currentItem()
        key = item.data(KeyRole) if item is not None else None
        return key if isinstance(key, str) else None

    def show_page(self, key: str) -> None:
        for row in range(self.sidebar.count()):
            item = self.sidebar.item(row)
            if item is not None and item.data(KeyRole) == key:
                self.sidebar.setCurrentRow(row)
                return
        raise KeyError(key)

    def _show_row(self, row: int) -> None:
        if row < 0:
            return
        key = self.current_key
        if key:
            self.page(key)  # a lazy page is built on its first show
        self.stack.setCurrentIndex(row)
        if key:
            self.setWindowTitle(f"{self._titles[key]} – Frontdesk")
            self._store.setValue("window/page", key)

    def open_conversation(self, contact_id: int) -> None:
        inbox = self._inbox_page()
        if inbox is None:
            return
        self.show_page("inbox")
        opener = getattr(inbox, "open_contact", None)
        if callable(opener):
            opener(contact_id)

    def focus_search(self) -> None:
        page = self.stack.currentWidget()
        hook = getattr(page, "focus_search", None)
        if callable(hook):
            hook()

    def next_unread(self) -> None:
        inbox = self._inbox_page()
        hook = getattr(inbox, "next_unread", None)
        if callable(hook):
            self.show_page("inbox")
            hook()

    def new_conversation(self) -> None:
        """Ctrl+N: the Inbox's "New conversation" (from any page)."""
        inbox = self._inbox_page()
        hook = getattr(inbox, "new_conversation", None)
        if callable(hook):
            self.show_page("inbox")
            hook()

    def send(self) -> None:
        if self.current_key != "inbox":
            return
        hook = getattr(self.pages.get("inbox"), "send_current", None)
        if callable(hook):
            hook()

    # ---- counts ------------------------------------------------------------------------------
    def refresh_counts(self, *_args: object) -> None:
        if self._counts_busy:
            self._counts_again = True
            return
        self._counts_busy = True

        def always() -> None:
            self._counts_busy = False
            if self._counts_again:
                self._counts_again = False
                self.refresh_counts()

        self.tasks.spawn(
            self._inbox.counts(), what="count unread threads", done=self.set_counts, always=always
        )

    def set_counts(self, counts: Counts) -> None:
        self.counts = counts
        badges = {"inbox": counts.unread, "missed_calls": counts.missed_waiting}
        tips = {
            "inbox": _plural(counts.unread, "conversation", "unread"),
            "missed_calls": _plural(counts.missed_waiting, "missed call", "not looked at yet"),
        }
        for row in range(self.sidebar.count()):
            item = self.sidebar.item(row)
            if item is None:
                continue
            key = item.data(KeyRole)
            if key in badges:
                item.setData(BadgeRole, badges[key])
                title = self._titles[key]
                item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{title}, {tips[key]}")
                item.setToolTip(f"{title}: {tips[key]} (Ctrl+{row + 1})")
        self.countsChanged.emit(counts)

    def badge(self, key: str) -> int:
        for row in range(self.sidebar.count()):
            item = self.sidebar.item(row)
            if item is not None and item.data(KeyRole) == key:
                return int(item.data(BadgeRole) or 0)
        return 0

    # ---- about, geometry, closing -------------------------------------------------------------
    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle("About Frontdesk")
        box.setIconPixmap(icons.app_icon().pixmap(64, 64))
        box.setText(f"<b>Frontdesk</b> {self.version}")
        box.setInformativeText(
            "Missed-call text-back and a shared SMS inbox on your own Twilio account.\n"
            "Your data stays on your office's computers."
        )
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.about_box = box

    def _restore(self) -> None:
        geometry = self._store.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(default_size(self.screen().availableGeometry().size()))
        key = self._store.value("window/page")
        keys = self._keys
        row = keys.index(key) if isinstance(key, str) and key in keys else 0
        if keys:
            self.sidebar.setCurrentRow(row)

    def save_state(self) -> None:
        self._store.setValue("window/geometry", self.saveGeometry())
        if self.current_key:
            self._store.setValue("window/page", self.current_key)
        self._store.sync()

    def shutdown(self) -> None:
        self.save_state()
        self._counts_timer.stop()
        self.tasks.cancel_all()
        for widget in self.pages.values():
            hook = getattr(widget, "shutdown", None)
            if callable(hook):
                hook()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Ask about unsaved changes first; then hide to the tray, or, with no tray, say
        that text-backs stop before quitting. The questions are non-modal (the loop
        keeps running); the close happens once they are answered."""
        self.save_state()
        event.ignore()  # hidden or quit through the shell, never destroyed here
        unsaved = self._unsaved_page()
        if unsaved is not None:
            self._ask_unsaved(*unsaved)
            return
        self._close_now()

    def _unsaved_page(self) -> tuple[str, QWidget] | None:
        for key, widget in self.pages.items():
            hook = getattr(widget, "unsaved_changes", None)
            if callable(hook) and hook():
                return key, widget
        return None

    def _ask_unsaved(self, key: str, page: QWidget) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Frontdesk")
        box.setText(f"Save your changes in {self._titles[key]}?")
        box.setInformativeText("If you close without saving, the changes are lost.")
        save = box.addButton("Save", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Don't save", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(save)

        def answered() -> None:
            clicked = box.clickedButton()
            if clicked is save:
                # Closes only if the save went through; a refused value stays on screen.
                page.save_changes(lambda ok: self._close_now() if ok else self.show_page(key))  # type: ignore[attr-defined]
            elif clicked is discard:
                page.discard_changes()  # type: ignore[attr-defined]
                self._close_now()

        box.finished.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.close_box = box  # tests answer it

    def _close_now(self) -> None:
        if self.close_to_tray:
            self.hide()
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Frontdesk")
        box.setText("Quit Frontdesk?")
        box.setInformativeText(
            "This computer has no system tray to keep Frontdesk running in, so closing the "
            "window quits it. While it is not running, missed calls get no text-back and "
            "new texts wait until you start it again."
        )
        quit_button = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)

        def answered() -> None:
            if box.clickedButton() is quit_button:
                self.quitRequested.emit()
            else:
                self.showMinimized()

        box.finished.connect(answered)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.close_box = box

    def bring_to_front(self) -> None:
        if self.isMinimized():
            self.showNormal()
        self.show()
        self.raise_()
        self.activateWindow()
