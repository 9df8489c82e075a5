"""Statistics and reports (F14).

- measures.py: the dimensions and measures, and what one call adds up to;
- period.py: report periods in the call center's timezone;
- rollup.py: the per-day rollups kept beside the history (see docs/REPORTS.md);
- spec.py: a report's definition and its validation;
- engine.py: answering a report from the rollups (or raw rows);
- forms.py: the ready forms and the administrator's custom ones;
- chart.py, export.py: the SVG chart, CSV and XLSX.
"""
from appliance.reports.engine import Result, run, today
from appliance.reports.forms import READY, custom_forms, get
from appliance.reports.period import Period, resolve
from appliance.reports.spec import Spec, check_spec

__all__ = ["READY", "Period", "Result", "Spec", "check_spec", "custom_forms", "get", "resolve", "run",
           "today"]
