"""The few TwiML documents the receiver answers with, built with proper XML escaping."""

from __future__ import annotations

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


def voicemail(greeting: str, *, record: bool, max_length: int = 120) -> str:
    """Greet (when a greeting is set), optionally record a voicemail, then hang up."""
    root = ET.Element("Response")
    if greeting.strip():
        ET.SubElement(root, "Say").text = greeting.strip()
    if record:
        ET.SubElement(root, "Record", {"maxLength": str(max_length), "playBeep": "true"})
    ET.SubElement(root, "Hangup")
    return _doc(root)


def hangup() -> str:
    root = ET.Element("Response")
    ET.SubElement(root, "Hangup")
    return _doc(root)
