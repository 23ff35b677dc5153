"""Render the app icon (resources/icons/app.svg) into the files installers need.

    python installer/make_icons.py OUT_DIR

Writes OUT_DIR/frontdesk.ico (Windows: 16-256 px, PNG entries), OUT_DIR/frontdesk.icns
(macOS: 16-1024 px) and OUT_DIR/frontdesk-256.png. Uses Qt offscreen (QtSvg), so it
runs on any build machine with the project's venv; nothing binary is kept in git.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def source_svg() -> Path:
    for candidate in (
        ROOT / "resources" / "icons" / "app.svg",
        ROOT / "installer" / "linux" / "frontdesk.svg",
    ):
        if candidate.is_file():
            return candidate
    raise SystemExit("make_icons: no app icon SVG found")


def render_pngs(svg: Path, sizes: list[int]) -> dict[int, bytes]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    _app = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {svg} is not a valid SVG")
    out: dict[int, bytes] = {}
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        out[size] = bytes(data.data())
    return out


def ico(pngs: dict[int, bytes]) -> bytes:
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        dim = 0 if size >= 256 else size  # 0 means 256 in an ICO directory
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        offset += len(blob)
        blobs += blob
    return header + entries + blobs


_ICNS_TYPES = {
    16: b"icp4",
    32: b"icp5",
    64: b"icp6",
    128: b"ic07",
    256: b"ic08",
    512: b"ic09",
    1024: b"ic10",
}


def icns(pngs: dict[int, bytes]) -> bytes:
    body = b""
    for size, kind in _ICNS_TYPES.items():
        if size in pngs:
            body += kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size]
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    pngs = render_pngs(source_svg(), [16, 24, 32, 48, 64, 128, 256, 512, 1024])
    (out / "frontdesk.ico").write_bytes(ico({s: pngs[s] for s in (16, 24, 32, 48, 64, 128, 256)}))
    (out / "frontdesk.icns").write_bytes(icns(pngs))
    (out / "frontdesk-256.png").write_bytes(pngs[256])
    print(f"make_icons: wrote {out}/frontdesk.ico, frontdesk.icns, frontdesk-256.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
