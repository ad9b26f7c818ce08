"""`--config FILE`: the route settings from a TOML file, with the command line winning over it."""

from __future__ import annotations


def _toml(job, pairs: dict) -> str:
    path = job.work / "ringmta.toml"
    lines = []
    for key, value in pairs.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _route_settings(job, dash: str = "-") -> dict:
    """The job's route flags as config keys (without "--", '-' written as `dash`)."""
    args = job.route()
    return {args[i][2:].replace("-", dash): args[i + 1] for i in range(0, len(args), 2)}


def test_config_file_supplies_the_route(job):
    settings = _route_settings(job)
    settings["max-connections"] = 2
    r = job.send("--config", _toml(job, settings))
    job.assert_all_delivered(r)


def test_command_line_wins_over_config_file(job):
    settings = _route_settings(job)
    settings["password-file"] = str(job.work / "no-such-file")
    # The file's password file does not exist; the command line's does.
    r = job.send("--config", _toml(job, settings), "--password-file", str(job.password_file))
    job.assert_all_delivered(r)


def test_config_keys_may_be_spelled_with_underscores_as_in_the_throttle_file(job):
    settings = _route_settings(job, "_")
    settings["max_connections"] = 2
    r = job.send("--config", _toml(job, settings))
    job.assert_all_delivered(r)


def test_an_unknown_config_key_is_an_error_naming_the_file_and_the_key(job):
    settings = _route_settings(job)
    settings["max_conections"] = 2
    path = _toml(job, settings)
    r = job.send("--config", path)
    assert r.rc == 2, r.stderr
    assert f"--config {path}: unknown key 'max_conections'" in r.stderr, r.stderr
    assert "did you mean 'max-connections'?" in r.stderr, r.stderr
    assert "queued" not in r.stderr
