"""Training faults: a run killed mid-epoch leaves the store and the active model untouched and can resume."""

from __future__ import annotations

import json
import signal

from binaudit.core.store import Store
from tests.training.support import TINY, db_of, final, run_in_process, start_training


def test_sigkill_mid_epoch_leaves_store_and_active_model_untouched(synth_store: Store, capsys) -> None:
    code, first = run_in_process(capsys, ["resnet", "--db", db_of(synth_store), *TINY])
    active_id = final(first)["model_id"]
    synth_store.activate_model(active_id)
    synth_store.record_label(synth_store.image_ids()[0], user="ann", status="corrected", count=4)
    before = {"models": synth_store.list_models(), "events": synth_store.event_count(),
              "snapshot": synth_store.label_snapshot()}

    proc = start_training(["resnet", "--db", db_of(synth_store), *TINY, "--epochs", "3"])
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "batch" and events[-1]["epoch"] == 2 and events[-1]["batch"] == 2:
            proc.send_signal(signal.SIGKILL)  # mid-epoch, no chance to clean up
            break
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL

    assert synth_store.integrity_check() == "ok"
    assert synth_store.list_models() == before["models"], "a killed run must not register or activate a model"
    assert synth_store.active_model("resnet")["id"] == active_id
    assert synth_store.event_count() == before["events"] and synth_store.label_snapshot() == before["snapshot"]

    run_dir = events[0]["run_dir"]
    code, resumed = run_in_process(capsys, ["resume", run_dir, "--threads", "1"])
    assert code == 0 and final(resumed)["event"] == "finished"
    assert [e["epoch"] for e in resumed if e["event"] == "epoch"] == [2, 3]  # epoch 2 redone from its start
    new_model = synth_store.get_model(final(resumed)["model_id"])
    assert not new_model["active"] and synth_store.active_model("resnet")["id"] == active_id
