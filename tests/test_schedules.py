import pytest
from django.core.management import call_command
from django.utils.module_loading import import_string
from django_q.models import Schedule

from core.schedules import all_schedules


@pytest.mark.parametrize("spec", all_schedules(), ids=lambda spec: spec.name)
def test_every_scheduled_function_is_importable(spec):
    assert callable(import_string(spec.func))


@pytest.mark.django_db
def test_setup_schedules_installs_each_schedule_once():
    call_command("setup_schedules")
    call_command("setup_schedules")
    installed = {s.name: (s.func, s.minutes) for s in Schedule.objects.all()}
    assert installed == {spec.name: (spec.func, spec.minutes) for spec in all_schedules()}


@pytest.mark.django_db
def test_renewals_made_ahead_of_time_are_rolled_over_every_15_minutes():
    call_command("setup_schedules")
    schedule = Schedule.objects.get(name="invoicing.roll_over_due_transitions")
    assert (schedule.func, schedule.minutes) == ("invoicing.tasks.roll_over_due_transitions", 15)
