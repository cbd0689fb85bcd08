"""Chinese job titles and descriptions composed from a posting's occupation, skills, pay and terms."""

from __future__ import annotations

from recsys.data.synthetic.occupations import OCCUPATIONS, SKILLS_ZH

EDU_ZH = ("不限", "初中", "高中", "中专/技校", "大专", "本科", "硕士")
TYPE_ZH = ("全职", "兼职", "零工/日结")
UNIT_ZH = ("元/月", "元/小时", "元/天")
SCHEDULE_ZH = ("白班", "两班倒", "夜班", "时间灵活", "周末班")
BENEFITS = ("五险一金", "包吃住", "节日福利", "带薪年假", "技能培训", "交通补贴", "满勤奖", "当天结算")


def job_title(occupation: int, job_type: int, vacancies: int) -> str:
    """Posting title, e.g. ``"急招 保安员（全职）"``."""
    urgent = "急招 " if vacancies >= 4 else ""
    return f"{urgent}{OCCUPATIONS[occupation].name_zh}（{TYPE_ZH[job_type]}）"


def job_description(occupation: int, skills: list[str], min_edu: int, age_min: int, age_max: int, wage_min: float,
                    wage_max: float, job_type: int, schedule: int, vacancies: int, key_enterprise: bool) -> str:
    """Posting text: headcount, skills, education, age limits, pay, schedule and benefits."""
    o = OCCUPATIONS[occupation]
    parts = [f"招聘{o.name_zh}{vacancies}名。", f"要求：{'、'.join(SKILLS_ZH[s] for s in skills)}；学历{EDU_ZH[min_edu]}"
             + ("及以上" if min_edu else "") + "。"]
    if age_max < 200:
        parts.append(f"年龄{age_min or 16}-{age_max}岁。")
    parts.append(f"薪资{wage_min:.0f}-{wage_max:.0f}{UNIT_ZH[job_type]}，{SCHEDULE_ZH[schedule]}。")
    perks = [BENEFITS[(occupation + k * 3 + job_type) % len(BENEFITS)] for k in range(2 + int(key_enterprise))]
    if job_type == 2:
        perks.append("当天结算")
    parts.append("福利：" + "、".join(dict.fromkeys(perks)) + "。")
    if key_enterprise:
        parts.append("重点企业，稳定发展。")
    return "".join(parts)
