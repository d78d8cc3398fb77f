"""Payload encryption: sealed payloads, key rotation, tampering, old histories, the codec server."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from codec import CodecError, EncryptionCodec, codec_of, data_converter, new_key
from config import InvalidSettings, Settings, get_settings
from models.billing import CustomerSnapshot
from starter.codec_server import CodecServer, make_server
from tests.conftest import HISTORIES
from worker import WORKFLOWS

NAME, EMAIL = "Zyx Holdings", "ap@zyx-holdings.test"


def keys(*ids: str) -> tuple[str, dict[str, str]]:
    """``BILLHOOK_CODEC_KEYS`` for fresh keys under ``ids``, and each id's key."""
    made = {key_id: new_key() for key_id in ids}
    return ",".join(f"{key_id}:{key}" for key_id, key in made.items()), made


def settings_with(codec_keys: str, **more: Any) -> Settings:
    return Settings(_env_file=None, codec_keys=codec_keys, **more)  # type: ignore[call-arg]


def customer() -> CustomerSnapshot:
    return CustomerSnapshot(customer_id="zyx", name=NAME, email=EMAIL, timezone="UTC")


async def sealed_customer(converter: DataConverter) -> list[Payload]:
    return await converter.encode([customer()])


async def test_payloads_are_sealed_with_the_first_key_and_keep_nothing_in_clear() -> None:
    text, made = keys("new", "old")
    converter = data_converter(settings_with(text))

    [payload] = await sealed_customer(converter)

    assert payload.metadata["encoding"] == b"binary/encrypted"
    assert payload.metadata["encryption-key-id"] == b"new"
    wire = payload.SerializeToString()
    for clear in (NAME.encode(), EMAIL.encode(), b"json/plain", b"zyx"):
        assert clear not in wire
    for key in made.values():
        assert key.encode() not in wire and base64.b64decode(key) not in wire
    assert await converter.decode([payload], [CustomerSnapshot]) == [customer()]


async def test_a_rotated_key_still_decrypts_what_the_old_one_sealed() -> None:
    old_text, _ = keys("k1")
    [old_payload] = await sealed_customer(data_converter(settings_with(old_text)))
    new_text, _ = keys("k2")
    rotated = data_converter(settings_with(f"{new_text},{old_text}"))

    assert await rotated.decode([old_payload], [CustomerSnapshot]) == [customer()]
    [new_payload] = await sealed_customer(rotated)
    assert new_payload.metadata["encryption-key-id"] == b"k2"
    # Once the old key is dropped, what it sealed is refused by name, not passed on.
    with pytest.raises(CodecError, match="sealed with key 'k1', which is not in BILLHOOK"):
        await data_converter(settings_with(new_text)).decode([old_payload], [CustomerSnapshot])


@pytest.mark.parametrize("where", ["ciphertext", "nonce", "tag", "key id", "truncated"])
async def test_a_tampered_payload_fails_loudly(where: str) -> None:
    text, _ = keys("a", "b")
    codec = codec_of(settings_with(text))
    assert codec is not None
    [payload] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    data = bytearray(payload.data)
    if where == "ciphertext":
        data[14] ^= 1
    elif where == "nonce":
        data[0] ^= 1
    elif where == "tag":
        data[-1] ^= 1
    elif where == "truncated":
        del data[-4:]
    tampered = Payload(metadata=dict(payload.metadata), data=bytes(data))
    if where == "key id":  # another configured key's id: the key id is authenticated too
        tampered.metadata["encryption-key-id"] = b"b"

    with pytest.raises(CodecError, match="does not decrypt: it was altered"):
        await codec.decode([tampered])


async def test_payloads_without_the_encoding_pass_through() -> None:
    text, _ = keys("k1")
    codec = codec_of(settings_with(text))
    assert codec is not None
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    assert await codec.decode([plain]) == [plain]


@pytest.mark.parametrize("name", sorted(path.stem for path in HISTORIES.glob("*.json")))
async def test_histories_recorded_before_encryption_replay_with_it_on(name: str) -> None:
    text, _ = keys("k1")
    history = WorkflowHistory.from_json(name, (HISTORIES / f"{name}.json").read_text())
    replayer = Replayer(workflows=WORKFLOWS, data_converter=data_converter(settings_with(text)))
    await replayer.replay_workflow(history)


def test_without_keys_the_converter_is_pydantic_alone() -> None:
    from temporalio.contrib.pydantic import pydantic_data_converter

    assert data_converter(settings_with("")) is pydantic_data_converter


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("k1", "entry 1 is not ID:KEY"),
        ("k 1:" + new_key(), "entry 1 is not ID:KEY"),
        ("k1:" + base64.b64encode(b"short").decode(), "the key of 'k1' is not 32 bytes"),
        ("k1:not base64!", "the key of 'k1' is not 32 bytes"),
        (f"k1:{new_key()},k1:{new_key()}", "key id 'k1' appears twice"),
    ],
)
def test_malformed_keys_are_one_line_errors_without_the_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BILLHOOK_CODEC_KEYS", value)
    get_settings.cache_clear()
    try:
        with pytest.raises(InvalidSettings) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    message = str(raised.value)
    assert message.startswith("invalid settings: BILLHOOK_CODEC_KEYS: ")
    assert says in message and "\n" not in message
    secret = value.partition(":")[2]
    assert not secret or secret not in message


def test_the_command_line_refuses_bad_keys_in_one_line_and_exits_1(tmp_path: Path) -> None:
    key = new_key()
    done = billhook(tmp_path, {"BILLHOOK_CODEC_KEYS": f"k1:{key[:20]}"}, "endpoint", "list")
    assert done.returncode == 1
    assert done.stderr == (
        "error: invalid settings: BILLHOOK_CODEC_KEYS: the key of 'k1' is not 32 bytes in "
        "base64; make one with: billhook codec-key\n"
    )
    worker = subprocess.run(
        [sys.executable, str(Path(__file__).parents[2] / "worker.py")],
        cwd=tmp_path,
        env={"PATH": "", "BILLHOOK_CODEC_KEYS": "nonsense"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 1
    assert worker.stderr.startswith("error: invalid settings: BILLHOOK_CODEC_KEYS: entry 1")
    assert len(worker.stderr.splitlines()) == 1


def test_codec_key_prints_a_key_the_settings_accept(tmp_path: Path) -> None:
    done = billhook(tmp_path, {}, "codec-key", "--id", "prod-2026")
    assert done.returncode == 0, done.stderr
    entry = done.stdout.strip()
    key_id, _, key = entry.partition(":")
    assert key_id == "prod-2026" and len(base64.b64decode(key)) == 32
    assert settings_with(entry).codec_key_ring() == [("prod-2026", base64.b64decode(key))]
    assert "BILLHOOK_CODEC_KEYS" in done.stderr
    again = billhook(tmp_path, {}, "codec-key").stdout.strip()
    assert again.partition(":")[2] != key  # random every time, with a dated id by default
    assert again.startswith("k2")
    bad = billhook(tmp_path, {}, "codec-key", "--id", "no spaces")
    assert bad.returncode == 1 and bad.stderr.startswith("error: --id 'no spaces': ")


def test_the_key_never_shows_in_the_settings_repr() -> None:
    text, made = keys("k1")
    settings = settings_with(text)
    for shown in (repr(settings), str(settings), settings.model_dump_json()):
        assert made["k1"] not in shown
    codec = codec_of(settings)
    assert made["k1"] not in repr(codec)


def billhook(cwd: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """``billhook ARGV`` in a process of its own, with only ``env`` set."""
    return subprocess.run(
        [str(Path(sys.executable).with_name("billhook")), *argv],
        cwd=cwd,
        env={"PATH": "", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- the codec server ---------------------------------------------------------------------


@pytest.fixture
def codec_server() -> Iterator[tuple[CodecServer, str]]:
    """A codec server on a free loopback port, with two keys (k2 encrypts); its base URL."""
    text, _ = keys("k2", "k1")
    server = make_server(settings_with(text), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def post(
    url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers or {})
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read() or b"null")


def as_json(payloads: list[Payload]) -> bytes:
    return json_format.MessageToJson(Payloads(payloads=payloads)).encode()


def from_json(body: Any) -> list[Payload]:
    return list(json_format.ParseDict(body, Payloads()).payloads)


async def test_the_codec_server_decodes_a_real_payload_over_http(
    codec_server: tuple[CodecServer, str],
) -> None:
    server, url = codec_server
    [sealed] = await data_converter_of(server).encode([customer()])

    status, headers, body = post(
        f"{url}/decode",
        as_json([sealed]),
        {"X-Namespace": "default", "Origin": "http://localhost:8233"},
    )

    assert status == 200, body
    [opened] = from_json(body)
    assert opened.metadata["encoding"] == b"json/plain"
    assert json.loads(opened.data) == customer().model_dump(mode="json")
    assert headers["Access-Control-Allow-Origin"] == "http://localhost:8233"
    # What the Web UI shows: the protobuf JSON form, base64 data holding the customer.
    assert EMAIL in base64.b64decode(body["payloads"][0]["data"]).decode()


async def test_the_codec_server_encodes_what_the_workers_decode(
    codec_server: tuple[CodecServer, str],
) -> None:
    server, url = codec_server
    plain = (await DataConverter().encode([{"name": NAME}]))[0]

    status, _, body = post(f"{url}/encode", as_json([plain]))

    assert status == 200
    [sealed] = from_json(body)
    assert sealed.metadata["encryption-key-id"] == b"k2"
    assert NAME.encode() not in sealed.data
    assert await data_converter_of(server).decode([sealed]) == [{"name": NAME}]


def test_the_codec_server_answers_the_web_uis_preflight_only(
    codec_server: tuple[CodecServer, str],
) -> None:
    _, url = codec_server
    for origin, allowed in (("http://localhost:8080", True), ("https://evil.test", False)):
        request = urllib.request.Request(
            f"{url}/decode",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            headers = dict(response.headers)
        assert response.status == 200
        if allowed:
            assert headers["Access-Control-Allow-Origin"] == origin
            assert "X-Namespace" in headers["Access-Control-Allow-Headers"]
            assert "POST" in headers["Access-Control-Allow-Methods"]
        else:
            assert "Access-Control-Allow-Origin" not in headers


async def test_the_codec_server_refuses_tampered_payloads_and_other_namespaces(
    codec_server: tuple[CodecServer, str],
) -> None:
    server, url = codec_server
    [sealed] = await data_converter_of(server).encode([customer()])
    tampered = Payload(
        metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    )

    status, _, body = post(f"{url}/decode", as_json([tampered]))
    assert status == 400 and "does not decrypt: it was altered" in body["error"]

    status, _, body = post(f"{url}/decode", as_json([sealed]), {"X-Namespace": "other"})
    assert status == 403 and body["error"] == "this codec server serves namespace default"

    status, _, body = post(f"{url}/decode", b"{not json")
    assert status == 400 and body["error"].startswith("not a Payloads JSON object")

    status, _, _ = post(f"{url}/elsewhere", as_json([sealed]))
    assert status == 404


def test_the_codec_server_refuses_to_start_without_keys(tmp_path: Path) -> None:
    done = billhook(tmp_path, {}, "codec-server", "--port", "0")
    assert done.returncode == 1
    assert done.stderr.startswith("error: BILLHOOK_CODEC_KEYS is empty")


def data_converter_of(server: CodecServer) -> DataConverter:
    """A data converter sealing with the server's own codec (what a worker would have)."""
    import dataclasses

    from temporalio.contrib.pydantic import pydantic_data_converter

    assert isinstance(server.codec, EncryptionCodec)
    return dataclasses.replace(pydantic_data_converter, payload_codec=server.codec)
