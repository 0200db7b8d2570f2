"""Create every feature switch of letsgrow.features.SWITCHES, off.

The names are copied here (a migration must not change when the module does).
Switches that already exist are left exactly as they are: this never turns one
on, nor off.
"""

from __future__ import annotations

from django.db import migrations

SWITCHES = {
    "ai_autopost": "Let AI-generated posts skip review where the plan and staff allow it.",
    "planner_autoschedule": "Let content plans put generated posts straight into the publishing queue.",
}


def create_switches(apps, schema_editor):
    Switch = apps.get_model("waffle", "Switch")
    for name, note in SWITCHES.items():
        Switch.objects.get_or_create(name=name, defaults={"active": False, "note": note})


class Migration(migrations.Migration):
    dependencies = [
        ("publishing", "0006_automationsettings_ai_autopost_allowed_and_more"),
        ("waffle", "0004_update_everyone_nullbooleanfield"),
    ]

    # Going back leaves the rows: deleting a switch someone turned on would hide that choice.
    operations = [migrations.RunPython(create_switches, migrations.RunPython.noop)]
