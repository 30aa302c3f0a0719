"""Factories for the audit trail."""

import factory
from django.contrib.contenttypes.models import ContentType

from audit.models import AuditEntry
from tests.customers.factories import CustomerFactory


class AuditEntryFactory(factory.django.DjangoModelFactory):
    """An entry for a customer's creation (made by hand, as auditlog's receiver would)."""

    class Meta:
        model = AuditEntry

    class Params:
        subject = factory.SubFactory(CustomerFactory)

    content_type = factory.LazyFunction(lambda: ContentType.objects.get(model="customer"))
    object_pk = factory.LazyAttribute(lambda o: str(o.subject.pk))
    object_repr = factory.LazyAttribute(lambda o: str(o.subject))
    action = AuditEntry.Action.CREATE
    changes = factory.LazyAttribute(lambda o: {"name": ["None", o.subject.name]})
    actor_name = "admin"
    source = AuditEntry.Source.ADMIN
