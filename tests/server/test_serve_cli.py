"""`featurelens serve` on the command line: a dry run names what it would serve and where unit views go; mistakes
(a bad port, a port in use, a missing data source) are one line naming the flag, before anything starts."""

from __future__ import annotations

import socket

from tests.server.conftest import free_port


def test_dry_run_names_the_model_the_data_and_the_views_folder(featurelens_cli, tmp_path) -> None:
    port = free_port()
    done = featurelens_cli("serve", "--model", "fashion-cnn", "--data", "photos", "--atlas", str(tmp_path / "views"), "--port", str(port), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"would serve fashion-cnn on cpu at http://127.0.0.1:{port}/" in done.stdout and f"unit views in {tmp_path / 'views'}" in done.stdout
    assert not (tmp_path / "views").exists()  # a dry run makes nothing


def test_mistakes_are_one_line(main_cli, tmp_path) -> None:
    code, err = main_cli("serve", "--port", "70000", "--dry-run")
    assert code == 2 and "--port must be between 1 and 65535, got 70000" in err and len(err.strip().splitlines()) == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = main_cli("serve", "--model", "fashion-cnn", "--port", str(port), "--atlas", str(tmp_path / "a"), "--dry-run")
    assert code == 2 and f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
    code, err = main_cli("serve", "--data", str(tmp_path / "nowhere"), "--dry-run")
    assert code == 2 and "nowhere" in err and len(err.strip().splitlines()) == 1


def test_an_audio_model_serves_audio_files_or_the_music_collection(featurelens_cli, main_cli, music_clips, tmp_path, monkeypatch) -> None:
    port = free_port()
    done = featurelens_cli("serve", "--model", "music-cnn", "--data", str(music_clips), "--atlas", str(tmp_path / "views"), "--port", str(port), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert f"would serve music-cnn on cpu at http://127.0.0.1:{port}/ (examples from {music_clips.resolve()}" in done.stdout
    (tmp_path / "pictures").mkdir()
    code, err = main_cli("serve", "--model", "music-cnn", "--data", str(tmp_path / "pictures"), "--dry-run")
    assert code == 2 and "no audio files in" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("HOME", str(tmp_path))  # no collection made here: the default data says how to make one
    code, err = main_cli("serve", "--model", "music-cnn", "--dry-run")
    assert code == 2 and "featurelens music make" in err and len(err.strip().splitlines()) == 1


def test_every_interface_warns_and_never_runs_without_the_token(featurelens_cli, main_cli, tmp_path) -> None:
    port = free_port()
    done = featurelens_cli("serve", "--model", "fashion-cnn", "--host", "0.0.0.0", "--port", str(port), "--atlas", str(tmp_path / "a"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "warning: --host 0.0.0.0: every network" in done.stderr and "a token required, listening on every interface" in done.stdout
    code, err = main_cli("serve", "--model", "fashion-cnn", "--host", "0.0.0.0", "--no-token", "--port", str(port), "--dry-run")
    assert code == 2 and "--host 0.0.0.0 with --no-token" in err and len(err.strip().splitlines()) == 1
    done = featurelens_cli("serve", "--model", "fashion-cnn", "--no-token", "--port", str(port), "--atlas", str(tmp_path / "a"), "--dry-run")
    assert done.returncode == 0 and "warning: --no-token: any program or web page" in done.stderr and "no token required" in done.stdout
    code, err = main_cli("serve", "--model", "fashion-cnn", "--token", "short", "--port", str(port), "--dry-run")
    assert code == 2 and "--token must be at least 16 characters" in err


def test_the_atlas_folder_is_never_an_empty_path_or_a_folder_of_other_files(main_cli, tmp_path) -> None:
    code, err = main_cli("serve", "--model", "fashion-cnn", "--atlas", "", "--dry-run")
    assert code == 2 and "--atlas is empty" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "notes.txt").write_text("private")
    code, err = main_cli("serve", "--model", "fashion-cnn", "--atlas", str(tmp_path), "--dry-run")
    assert code == 2 and "is not an atlas (no atlas.json) and not empty" in err
    code, err = main_cli("serve", "--model", "fashion-cnn", "--max-jobs", "0", "--dry-run")
    assert code == 2 and "--max-jobs must be at least 1" in err
