"""`aoai devnet up|down`: anvil and IPFS in the background, the contracts deployed by `ape run deploy`."""

import json

import httpx
import pytest
from click.testing import CliRunner

from agents.cli.main import cli
from agents.deployments import load_deployment
from agents.devnet import network
from agents.devnet.services import ServiceError, free_port, process_alive

pytestmark = pytest.mark.services


@pytest.fixture
def aoai_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AOAI_HOME", str(tmp_path))
    return tmp_path


def test_up_deploys_and_down_stops_everything(aoai_home):
    record = network.up(anvil_port=free_port(), ipfs_port=free_port())
    try:
        assert json.loads((aoai_home / "devnet.json").read_text())["rpc"] == record.rpc
        deployment = load_deployment(31337)
        assert set(deployment["contracts"]) >= {"AOAIToken", "TrainingRounds", "StakeManager"}
        code = httpx.post(
            record.rpc,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_getCode",
                "params": [deployment["contracts"]["AOAIToken"], "latest"],
            },
        ).json()["result"]
        assert len(code) > 1000
        with pytest.raises(ServiceError, match="already up"):
            network.up(anvil_port=free_port(), ipfs_port=free_port())
        info = CliRunner().invoke(cli, ["info"])
        assert info.exit_code == 0, info.output
        assert deployment["contracts"]["AOAIToken"] in info.output
        assert "1,000,000,000.000000 AOAI" in info.output
    finally:
        stopped = network.down()
    assert stopped is not None
    assert not any(process_alive(pid) for pid in stopped.pids)
    assert network.read_record() is None
    assert network.down() is None


def test_info_without_a_node_is_a_clear_error(aoai_home):
    result = CliRunner().invoke(cli, ["info", "--network", f"ethereum:local:http://127.0.0.1:{free_port()}"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
