from django.contrib import admin

from digests.admin.sending import DigestSendingAdminMixin
from digests.models import Category, Digest, Item


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "is_active"]
    list_editable = ["position", "is_active"]
    search_fields = ["name", "slug"]


class ItemInline(admin.StackedInline):
    model = Item
    extra = 0


@admin.register(Digest)
class DigestAdmin(DigestSendingAdminMixin, admin.ModelAdmin):
    list_display = ["issue_date", "title", "status"]
    inlines = [ItemInline]
