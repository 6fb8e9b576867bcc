from django.contrib import admin

from reps.models import Absence, CompanyDayOff, Rep, Team, WorkingPeriod


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    extra = 0
    fields = ["weekday", "start", "end"]


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0
    fields = ["starts_at", "ends_at", "note"]


@admin.register(Rep)
class RepAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "team",
        "timezone",
        "holiday_country",
        "weekly_capacity",
        "active",
        "last_assigned_at",
    ]
    list_filter = ["active", "team", "timezone"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user", "team"]
    raw_id_fields = ["user", "manager"]
    fieldsets = [
        (None, {"fields": ["user", "team", "manager", "active", "weekly_capacity"]}),
        ("Calendar", {"fields": ["timezone", "holiday_country", "holiday_subdivision"]}),
        # Routing state is written only by the round robin; shown so RevOps can see the split.
        ("Routing", {"fields": ["routing_credit", "last_assigned_at"]}),
    ]
    readonly_fields = ["routing_credit", "last_assigned_at"]
    inlines = [WorkingPeriodInline, AbsenceInline]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "manager"]
    search_fields = ["name"]
    raw_id_fields = ["manager"]


@admin.register(CompanyDayOff)
class CompanyDayOffAdmin(admin.ModelAdmin):
    list_display = ["day", "name"]
    date_hierarchy = "day"
