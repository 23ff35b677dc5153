"""The few TwiML documents the receiver answers with, built with proper XML escaping."""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree import ElementTree as ET


def _doc(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def empty() -> str:
    return _doc(ET.Element("Response"))


def dial(numbers: list[str], *, timeout: int, action: str, caller_id: str | None = None) -> str:
    """Ring the office phones at once; Twilio requests ``action`` when the Dial ends."""
    root = ET.Element("Response")
    attrs = {"timeout": str(timeout), "action": action, "method": "POST", "answerOnBridge": "true"}
    if caller_id:
        attrs["callerId"] = caller_id
    element = ET.SubElement(root, "Dial", attrs)
    for number in numbers[:10]:
        ET.SubElement(element, "Number").text = number
    return _doc(root)


@dataclass(frozen=True, slots=True)
class RecordUrls:
    """Where a ``<Record>`` reports: its own ``action`` (answered ``<Hangup/>``; without
    one Twilio requests the current URL again, which would greet and record again: a
    loop), the recording status callback and the transcription callback."""

    action: str
    status_callback: str
    transcribe_callback: str


def voicemail(
    greeting: str, *, record: RecordUrls | None, max_length: int = 120, transcribe: bool = True
) -> str:
    """Greet (when a greeting is set), record a voicemail when ``record`` is given, then
    hang up."""
    root = ET.Element("Response")
    if greeting.strip():
        ET.SubElement(root, "Say").text = greeting.strip()
    if record is not None:
        attrs = {
            "action": record.action,
            "method": "POST",
            "maxLength": str(max_length),
            "playBeep": "true",
            "recordingStatusCallback": record.status_callback,
            "recordingStatusCallbackMethod": "POST",
            "recordingStatusCallbackEvent": "completed absent",
        }
        if transcribe:
            attrs["transcribe"] = "true"
            attrs["transcribeCallback"] = record.transcribe_callback
        ET.SubElement(root, "Record", attrs)
    ET.SubElement(root, "Hangup")
    return _doc(root)


def connect_callback(caller: str, *, caller_id: str, action: str, announce: str) -> str:
    """The desk's phone answered a Call back: say who is being called, then ring the
    caller with the business number as caller ID."""
    root = ET.Element("Response")
    if announce:
        ET.SubElement(root, "Say").text = announce
    element = ET.SubElement(
        root,
        "Dial",
        {"callerId": caller_id, "action": action, "method": "POST", "answerOnBridge": "true"},
    )
    ET.SubElement(element, "Number").text = caller
    return _doc(root)


def hangup() -> str:
    root = ET.Element("Response")
    ET.SubElement(root, "Hangup")
    return _doc(root)
