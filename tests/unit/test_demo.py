"""The demo configuration `make run` loads stays valid as the product grows."""
from devtools import demo
from appliance.scenarios import graph


def test_the_demo_ivr_has_no_problems_and_every_prompt_in_both_languages():
    problems = graph.check(demo.DEMO_SCENARIO, lambda name: name in demo.DEMO_PROMPTS)
    assert problems == []
    assert all(set(texts) == {"ru", "en"} for texts in demo.DEMO_PROMPTS.values())


def test_the_demo_accounts_table_is_clean():
    from appliance.tables import store as datatables
    preview = datatables.preview(demo.DEMO_ACCOUNTS.encode("utf-8"), "account")
    assert not preview.problems and len(preview.rows) == 3
