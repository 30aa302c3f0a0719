"""`{% section_crumb opts %}`: the breadcrumb naming the admin section a model is shown in."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

from billing_site.admin_site import section_of

register = template.Library()


@register.simple_tag
def section_crumb(opts) -> str:
    section = section_of(opts.app_label, opts.model_name)
    url = reverse("admin:section", args=[section.slug])
    return format_html('&rsaquo; <a href="{}">{}</a>', url, section.name)


@register.simple_tag
def section_url(app_label: str, model_name: str | None = None) -> str:
    return reverse("admin:section", args=[section_of(app_label, model_name).slug])


@register.simple_tag
def section_name(app_label: str, model_name: str | None = None) -> str:
    return section_of(app_label, model_name).name
