"""``picloud-bots`` as a person runs it: a real child process, the emulator as the host."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fakes.chevereto import USER_KEY, CheveretoEmulator
from tests.fakes.media import big_png_file, png_bytes

ROOT = Path(__file__).resolve().parent.parent
TOKEN_LIKE = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@dataclass
class Run:
    code: int
    out: str
    err: str


class Shell:
    """Runs ``python -m bots`` with a private data dir and only the variables given."""

    def __init__(self, data_dir: Path, api_url: str) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(data_dir),
            "PICLOUD_DATA_DIR": str(data_dir),
            "PICLOUD_API_URL": api_url,
        }
        self.cwd = data_dir

    async def __call__(self, *args: str, stdin: str = "", **env: str) -> Run:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots",
            *args,
            cwd=self.cwd,
            env={**self.env, "PYTHONPATH": str(ROOT), **env},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
        assert process.returncode is not None
        return Run(process.returncode, out.decode(), err.decode())


@pytest.fixture
def shell(chevereto: CheveretoEmulator, tmp_path: Path) -> Shell:
    return Shell(tmp_path, chevereto.api_url)


def a_png(tmp_path: Path, seed: int, name: str = "cat.png") -> Path:
    path = tmp_path / name
    path.write_bytes(png_bytes(seed=seed))
    return path


async def test_run_without_any_token_says_what_to_set(shell: Shell) -> None:
    run = await shell("run")
    assert run.code == 2
    assert "TELEGRAM_BOT_TOKEN" in run.err
    assert "DISCORD_BOT_TOKEN" in run.err


async def test_upload_prints_viewer_direct_and_thumb(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    photo = a_png(tmp_path, 1)
    run = await shell(
        "upload",
        str(photo),
        "--title",
        "Кот",
        "--tags",
        "cats, милота",
        "--expire",
        "1d",
        "--nsfw",
        PICLOUD_API_KEY=USER_KEY,
    )

    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0] == str(photo)
    assert [line.split()[0] for line in lines[1:]] == ["viewer:", "direct:", "thumb:"]
    (upload,) = chevereto.uploads.values()
    assert upload.title == "Кот"
    assert upload.fields["tags"] == "cats,милота"
    assert upload.fields["expiration"] == "P1D"
    assert upload.fields["nsfw"] == "1"
    assert USER_KEY not in run.out + run.err


async def test_upload_again_is_answered_from_the_records(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    photo = a_png(tmp_path, 2)
    await shell("upload", str(photo), PICLOUD_API_KEY=USER_KEY)
    run = await shell("upload", str(photo), PICLOUD_API_KEY=USER_KEY)

    assert run.code == 0
    assert "(already uploaded)" in run.out.splitlines()[0]
    assert len(chevereto.uploads) == 1


async def test_one_line_per_failed_file_and_exit_1(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    good = a_png(tmp_path, 3, "good.png")
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.png"

    run = await shell(
        "upload", str(good), str(text), str(empty), str(missing), PICLOUD_API_KEY=USER_KEY
    )

    assert run.code == 1
    assert run.out.splitlines()[0] == str(good)
    errors = run.err.strip().splitlines()
    assert len(errors) == 3
    assert errors[0].startswith(f"{text}: error: ")
    assert errors[1] == f"{empty}: error: the file is empty"
    assert errors[2].startswith(f"{missing}: error: No such file")
    assert len(chevereto.uploads) == 1


async def test_no_key_explains_how_to_give_one(shell: Shell, tmp_path: Path) -> None:
    run = await shell("upload", str(a_png(tmp_path, 4)))
    assert run.code == 1
    assert "pass --key" in run.err
    assert "PICLOUD_API_KEY" in run.err


async def test_key_from_stdin(shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path) -> None:
    run = await shell("upload", str(a_png(tmp_path, 5)), "--key", "-", stdin=USER_KEY + "\n")
    assert run.code == 0, run.err
    assert [r.headers["x-api-key"] for r in chevereto.requests] == [USER_KEY]


@pytest.mark.parametrize(
    ("key", "reason"),
    [("chv_1 with spaces inside", "no spaces"), ("chv_1_x\nsecond line", "no spaces")],
)
async def test_malformed_key_is_refused_without_a_request(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path, key: str, reason: str
) -> None:
    run = await shell("upload", str(a_png(tmp_path, 6)), "--key", key)
    assert run.code == 1
    assert reason in run.err
    assert key not in run.err
    assert chevereto.requests == []


async def test_wrong_key_is_reported(shell: Shell, tmp_path: Path) -> None:
    wrong = "chv_1_wrongkeyWWWWWWWWWWWWWWWWWWWWWWWWWWWW"
    run = await shell("upload", str(a_png(tmp_path, 7)), PICLOUD_API_KEY=wrong)
    assert run.code == 1
    assert "key" in run.err.lower()
    assert wrong not in run.err


async def test_invalid_expiry_stops_before_uploading(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    run = await shell("upload", str(a_png(tmp_path, 8)), "--expire", "soon")
    assert run.code == 2
    assert "'soon' is not a duration" in run.err
    assert chevereto.requests == []


async def test_large_file_uploads_with_progress(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    big = big_png_file(tmp_path / "big.png", 6 * 1024 * 1024, seed=9)
    run = await shell("upload", str(big), PICLOUD_API_KEY=USER_KEY, TTY_INTERACTIVE="1")
    assert run.code == 0, run.err
    (upload,) = chevereto.uploads.values()
    assert upload.size == 6 * 1024 * 1024


async def test_title_over_100_characters_is_cut(
    shell: Shell, chevereto: CheveretoEmulator, tmp_path: Path
) -> None:
    run = await shell(
        "upload", str(a_png(tmp_path, 10)), "--title", "t" * 150, PICLOUD_API_KEY=USER_KEY
    )
    assert run.code == 0
    (upload,) = chevereto.uploads.values()
    assert upload.title == "t" * 100


async def test_db_upgrade(shell: Shell) -> None:
    run = await shell("db", "upgrade")
    assert run.code == 0
    assert "up to date" in run.out


async def test_locked_database_at_start_is_a_clear_error(shell: Shell, tmp_path: Path) -> None:
    assert (await shell("db", "upgrade")).code == 0
    holder = sqlite3.connect(tmp_path / "picloud-bots.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        run = await shell("upload", str(a_png(tmp_path, 11)), PICLOUD_API_KEY=USER_KEY)
    finally:
        holder.close()
    assert run.code == 2
    assert "cannot open the database" in run.err
    assert "locked" in run.err
    assert "Traceback" not in run.err


async def test_unreachable_database_is_a_clear_error(shell: Shell) -> None:
    url = "postgresql+asyncpg://bot:hunter2@127.0.0.1:9/bots"
    run = await shell("db", "upgrade", PICLOUD_DATABASE_URL=url)
    assert run.code == 2
    assert "cannot open the database" in run.err
    assert "hunter2" not in run.err
    assert "Traceback" not in run.err


async def test_missing_secret_key_never_silently_replaces_the_old_one(
    shell: Shell, tmp_path: Path
) -> None:
    assert (await shell("upload", str(a_png(tmp_path, 12)), PICLOUD_API_KEY=USER_KEY)).code == 0
    (tmp_path / "secret.key").unlink()

    run = await shell("upload", str(a_png(tmp_path, 13)), PICLOUD_API_KEY=USER_KEY)

    assert run.code == 2
    assert "secret.key is missing" in run.err
    assert not (tmp_path / "secret.key").exists()


async def test_corrupt_or_wrong_secret_key_is_a_clear_error(shell: Shell, tmp_path: Path) -> None:
    assert (await shell("db", "upgrade")).code == 0
    assert (await shell("upload", str(a_png(tmp_path, 14)), PICLOUD_API_KEY=USER_KEY)).code == 0

    corrupt = await shell("upload", str(a_png(tmp_path, 15)), PICLOUD_SECRET_KEY="garbage")
    wrong = await shell(
        "upload",
        str(a_png(tmp_path, 16)),
        PICLOUD_SECRET_KEY="3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    )

    assert (corrupt.code, wrong.code) == (2, 2)
    assert "PICLOUD_SECRET_KEY is not a valid key" in corrupt.err
    assert "not the one this database was written with" in wrong.err


async def test_bad_setting_names_the_variable_not_its_value(shell: Shell) -> None:
    run = await shell("run", PICLOUD_MAX_UPLOAD_MB="lots", TELEGRAM_BOT_TOKEN=TOKEN_LIKE)
    assert run.code == 2
    assert "PICLOUD_MAX_UPLOAD_MB" in run.err
    assert "lots" not in run.err
    assert TOKEN_LIKE not in run.err


async def test_operators_that_are_not_platform_and_id_are_refused(shell: Shell) -> None:
    run = await shell("run", PICLOUD_ADMIN_IDS="alice, 1001", TELEGRAM_BOT_TOKEN=TOKEN_LIKE)
    assert run.code == 2
    assert "PICLOUD_ADMIN_IDS: wants platform:user id pairs" in run.err
    assert len(run.err.strip().splitlines()) == 1
