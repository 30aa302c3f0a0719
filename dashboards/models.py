"""The seller on every invoice document (one company profile), its logos, and what a finalized
invoice's document froze when it was issued."""

import hashlib

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from invoicing.models import Invoice


class CompanyLogo(models.Model):
    """An uploaded logo, stored once by content (its SHA-256) and never changed, so a document
    frozen with a logo keeps it after the profile's logo is replaced."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    content_type = models.CharField(max_length=40)
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    content_type__in=["image/png", "image/jpeg", "image/gif", "image/webp"]
                ),
                name="companylogo_image_type",
                violation_error_message="A logo is a PNG, JPEG, GIF or WebP image.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.content_type} {self.sha256[:12]}"

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()


class CompanyProfile(models.Model):
    """The seller printed on every invoice document: one row (id 1), edited in the admin."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    name = models.CharField(max_length=200, help_text="The legal name invoices are issued by.")
    address = models.TextField(blank=True, help_text="Postal address, one line per line.")
    tax_id = models.CharField(
        "tax id", max_length=60, blank=True, help_text="VAT number, EIN, ... as it must be printed."
    )
    email = models.EmailField(blank=True, help_text="Where customers write about invoices.")
    logo = models.ForeignKey(
        CompanyLogo, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    payment_instructions = models.TextField(
        blank=True, help_text="How to pay: bank details, a payment link... printed under the total."
    )
    invoice_number_prefix = models.CharField(
        max_length=20,
        blank=True,
        help_text='Printed before the invoice number ("INV-" gives INV-42).',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "company profile"
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1),
                name="companyprofile_single_row",
                violation_error_message="There is one company profile.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if not self.name.strip():
            raise ValidationError({"name": "The company name is printed on every invoice."})

    @classmethod
    def current(cls) -> "CompanyProfile":
        """The profile, or an unsaved placeholder until one is saved in the admin."""
        return cls.objects.select_related("logo").filter(pk=cls.SINGLETON_ID).first() or cls(
            name="Your company (set the company profile in the admin)"
        )


class FrozenDocument(models.Model):
    """What a finalized invoice's document showed besides its frozen lines, taken when it was
    finalized: the seller, the bill-to, each product's display unit and group key order. The
    document of a finalized or void invoice is built from this and the lines, never from
    today's profile, customer or products."""

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="+")
    seller = models.JSONField()
    bill_to = models.JSONField()
    products = models.JSONField(
        default=dict, help_text="{product id: {unit, keys}} of the products on the lines."
    )
    logo = models.ForeignKey(
        CompanyLogo, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    frozen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Document of {self.invoice_id}"
