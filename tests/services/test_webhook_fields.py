"""The receiver's edge: each Twilio field parsed into a typed, bounded value."""

from __future__ import annotations

import pytest

from services import webhook_fields as f
from services.webhook_fields import BadWebhook

SID = "CA" + "a" * 32


@pytest.mark.parametrize(
    "raw", ["²", "١٢", "1" * 5000, "-5", "3.5", "１２", "86401", " 7x", "0x10", "1e3"]
)
def test_durations_are_ascii_digits_in_range_else_dropped(raw: str) -> None:
    result = f.parse_dial_result(
        {"CallSid": SID, "DialCallStatus": "no-answer", "DialCallDuration": raw}
    )
    assert result.dial_seconds is None
    update = f.parse_call_status({"CallSid": SID, "CallStatus": "completed", "CallDuration": raw})
    assert update.duration_seconds is None


def test_a_good_duration_is_kept() -> None:
    result = f.parse_dial_result(
        {"CallSid": SID, "DialCallStatus": "no-answer", "DialCallDuration": "86400"}
    )
    assert result.dial_seconds == 86400


@pytest.mark.parametrize(("raw", "code"), [("30007", 30007), ("0", None), ("١٢", None)])
def test_error_codes_are_bounded(raw: str, code: int | None) -> None:
    update = f.parse_message_status(
        {"MessageSid": "SM" + "1" * 32, "MessageStatus": "failed", "ErrorCode": raw}
    )
    assert update.error_code == code
    huge = f.parse_message_status(
        {"MessageSid": "SM" + "1" * 32, "MessageStatus": "failed", "ErrorCode": "9" * 40}
    )
    assert huge.error_code is None


def test_unknown_enum_values_go_to_the_other_bucket() -> None:
    update = f.parse_call_status({"CallSid": SID, "CallStatus": "teleported-" + "x" * 100})
    assert update.status == f.OTHER
    assert f.parse_call_status({"CallSid": SID, "CallStatus": "No-Answer"}).status == "no-answer"
    status = f.parse_message_status({"MessageSid": SID, "MessageStatus": "\x00queued"})
    assert status.status == f.OTHER


def test_text_loses_nuls_and_controls_and_is_capped() -> None:
    message = f.parse_inbound_message(
        {
            "MessageSid": "SM" + "2" * 32,
            "From": "+1415\x00555\x1b0123",
            "To": "sip:" + "a" * 1000 + "@example.com",
            "Body": "line one\x00\r\nline\ttwo 👨‍👩‍👧\u200f" + "z" * 5000,
        }
    )
    assert message.from_ == "+14155550123"
    assert len(message.to) == f.MAX_ADDRESS
    assert "\x00" not in message.body
    assert message.body.startswith("line one\nline\ttwo 👨‍👩‍👧\u200f")  # joiners kept
    assert len(message.body) == f.MAX_BODY


@pytest.mark.parametrize("sid", ["CA1²", "CA" + "1" * 65, "CA 1", "CA\x001", "../../etc", "CA١٢"])
def test_a_sid_that_is_not_one_is_a_400(sid: str) -> None:
    with pytest.raises(BadWebhook, match="not a Twilio SID"):
        f.parse_voice({"CallSid": sid, "From": "+14155550123"})


def test_missing_required_fields_are_400s() -> None:
    with pytest.raises(BadWebhook, match="CallSid"):
        f.parse_voice({"From": "+1"})
    with pytest.raises(BadWebhook, match="From"):
        f.parse_voice({"CallSid": SID, "From": "\x00\x00"})
    with pytest.raises(BadWebhook, match="DialCallStatus"):
        f.parse_dial_result({"CallSid": SID})


def test_media_are_bounded_and_only_urls() -> None:
    form = {"MessageSid": "MM" + "3" * 32, "From": "+14155550123", "NumMedia": "5000"}
    for i in range(12):
        form[f"MediaUrl{i}"] = f"https://api.twilio.com/m/{i}"
        form[f"MediaContentType{i}"] = "image/jpeg\x00" + "x" * 500
    form["MediaUrl1"] = "javascript:alert(1)"
    media = f.parse_inbound_message(form).media
    assert len(media) == f.MAX_MEDIA - 1
    assert all(url.startswith("https://") for url, _ in media)
    assert all(len(kind) <= 100 and "\x00" not in kind for _, kind in media)
    assert f.parse_inbound_message({**form, "NumMedia": "²"}).media == ()


# -- voicemail webhooks (issue 11) ---------------------------------------------------------


def test_recording_status_is_typed_and_bounded() -> None:
    from services.webhook_fields import parse_recording_status

    update = parse_recording_status(
        {
            "CallSid": "CA" + "1" * 32,
            "RecordingSid": "RE" + "2" * 32,
            "RecordingStatus": "brand-new-status",
            "RecordingDuration": "١٢",  # Arabic-Indic digits: not a number here
        }
    )
    assert update.status == "other" and update.duration_seconds is None
    with pytest.raises(BadWebhook):
        parse_recording_status({"CallSid": "CA" + "1" * 32, "RecordingStatus": "completed"})
    with pytest.raises(BadWebhook):
        parse_recording_status(
            {"CallSid": "CA1", "RecordingSid": "RE\x00bad", "RecordingStatus": "completed"}
        )


def test_transcription_text_is_cleaned_and_capped() -> None:
    from services.webhook_fields import MAX_TRANSCRIPT, parse_transcription

    done = parse_transcription(
        {
            "CallSid": "CA" + "1" * 32,
            "RecordingSid": "RE" + "2" * 32,
            "TranscriptionStatus": "completed",
            "TranscriptionText": "call\x00 me\r\nback" + "x" * 10_000,
        }
    )
    assert done.text.startswith("call me\nback") and len(done.text) == MAX_TRANSCRIPT


def test_a_record_request_to_the_dial_result_url_is_not_refused() -> None:
    from services.webhook_fields import parse_dial_result

    result = parse_dial_result(
        {"CallSid": "CA" + "1" * 32, "RecordingSid": "RE" + "2" * 32, "RecordingDuration": "9"}
    )
    assert result.recording is not None and result.recording.duration_seconds == 9
    with pytest.raises(BadWebhook):
        parse_dial_result({"CallSid": "CA" + "1" * 32})  # neither a Dial nor a Record
