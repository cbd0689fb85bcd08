"""Occupation taxonomy: 48 occupations of Guangzhou's public employment market.

Each occupation fixes its industry, required skills (vocabulary codes with Chinese names), typical
minimum education, monthly pay range (CNY, full-time equivalent), job-type mix, schedule mix, how often
postings carry an age limit (and the usual upper limit), and a hidden gender preference used only by
employer screening. Industries concentrate in districts (garment in Haizhu, leather in Huadu, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recsys.data.schema import DISTRICTS, EDUCATION_LEVELS, JOB_TYPES, SCHEDULES

SKILLS_ZH: dict[str, str] = {
    "housekeeping": "家务整理", "cooking": "烹饪", "elder_care": "老人照护", "infant_care": "婴幼儿护理",
    "early_education": "早期教育", "patient_care": "病患护理", "first_aid": "急救", "cleaning": "清洁保洁",
    "delivery": "配送", "e_bike": "电动车驾驶", "route_navigation": "路线导航", "customer_service_basic": "基础客户服务",
    "warehouse_picking": "仓库拣货", "inventory": "库存管理", "packing": "打包", "forklift": "叉车操作",
    "safety_production": "安全生产", "sewing": "缝纫", "garment_finishing": "服装后整", "fabric_cutting": "裁剪",
    "pattern_reading": "纸样识读", "fabric_knowledge": "面料知识", "sales": "销售", "leather_cutting": "皮料裁断",
    "leather_sewing": "皮具车缝", "quality_inspection": "质量检验", "electronics_assembly": "电子装配",
    "soldering": "焊锡", "machine_operation": "机床操作", "auto_assembly": "汽车装配", "electrical_wiring": "电气接线",
    "electrician_cert": "电工证", "masonry": "砌筑", "tiling": "贴砖", "construction_safety": "施工安全",
    "painting": "油漆", "carpentry": "木工", "welding": "焊接", "food_safety": "食品安全", "chinese_cuisine": "粤菜烹调",
    "food_prep": "备菜", "food_service": "餐饮服务", "cashier": "收银", "pos_systems": "收银系统",
    "merchandising": "商品陈列", "security_patrol": "安保巡逻", "fire_safety": "消防安全", "security_cert": "保安员证",
    "truck_driving": "货车驾驶", "vehicle_maintenance": "车辆保养", "car_driving": "小车驾驶",
    "customer_service": "客户服务", "phone_communication": "电话沟通", "office_software": "办公软件",
    "negotiation": "商务谈判", "accounting": "会计核算", "tax_filing": "纳税申报", "financial_software": "财务软件",
    "recruitment": "招聘", "labor_law": "劳动法", "payroll": "薪酬核算", "document_management": "文档管理",
    "reception": "前台接待", "cost_estimation": "工程造价", "cad": "CAD制图", "construction_knowledge": "建筑识图",
    "programming_python": "Python编程", "programming_java": "Java编程", "databases": "数据库", "software_testing": "软件测试",
    "data_annotation": "数据标注", "ai_tools": "AI工具应用", "prompt_writing": "提示词编写", "ecommerce_ops": "电商运营",
    "live_streaming": "直播", "data_analysis": "数据分析", "copywriting": "文案写作", "teaching": "教学",
    "curriculum_design": "课程设计", "communication": "沟通表达", "nursing": "护理", "nursing_cert": "护士执业证",
    "pharmacy_knowledge": "药品知识", "property_management": "物业管理", "logistics_planning": "物流调度",
    "graphic_design": "平面设计", "english_basic": "基础英语",
}
SKILLS: tuple[str, ...] = tuple(SKILLS_ZH)
SKILL_INDEX = {s: i for i, s in enumerate(SKILLS)}
N_SKILL_WORDS = (len(SKILLS) + 63) // 64
"""Skill sets are bitmasks of ``N_SKILL_WORDS`` uint64 words."""


@dataclass(frozen=True)
class Occupation:
    """One occupation. ``wage`` is the monthly full-time range; ``types``/``schedules`` are weights."""

    code: str
    name_zh: str
    industry: str
    skills: tuple[str, ...]
    min_education: str
    wage: tuple[float, float]
    types: tuple[float, float, float]  # full_time, part_time, gig
    schedules: tuple[float, float, float, float, float]  # day, shift, night, flexible, weekend
    age_limit_share: float  # share of postings that state an upper age limit
    age_max: int  # typical stated upper limit
    male_pref: float = 0.0  # share of employers that screen for men
    female_pref: float = 0.0  # share of employers that screen for women
    demand: float = 1.0  # relative number of postings


_D, _S, _N, _F, _W = (1, 0, 0, 0, 0), (0.3, 0.6, 0.1, 0, 0), (0, 0.4, 0.6, 0, 0), (0.3, 0, 0, 0.7, 0), (0.2, 0, 0, 0.3, 0.5)
OCCUPATIONS: tuple[Occupation, ...] = (
    Occupation("housekeeper", "家政服务员", "domestic", ("housekeeping", "cooking", "elder_care"), "none", (4500, 7000), (0.4, 0.4, 0.2), (0.5, 0, 0, 0.5, 0), 0.6, 55, 0, 0.6, 1.6),
    Occupation("infant_carer", "育婴员", "domestic", ("infant_care", "housekeeping", "early_education"), "junior_high", (6000, 10000), (0.7, 0.2, 0.1), (0.6, 0, 0, 0.4, 0), 0.7, 50, 0, 0.8),
    Occupation("care_worker", "护工", "healthcare", ("elder_care", "patient_care", "first_aid"), "junior_high", (5000, 7500), (0.7, 0.1, 0.2), (0.2, 0.6, 0.2, 0, 0), 0.5, 55, 0, 0.4, 1.2),
    Occupation("cleaner", "保洁员", "facility", ("cleaning", "housekeeping"), "none", (3000, 4200), (0.4, 0.3, 0.3), (0.6, 0.2, 0, 0.2, 0), 0.5, 60, 0, 0.3, 1.6),
    Occupation("courier", "快递员", "logistics", ("delivery", "e_bike", "customer_service_basic"), "junior_high", (6000, 9000), (0.8, 0.0, 0.2), _D, 0.6, 45, 0.7, 0, 1.6),
    Occupation("food_delivery_rider", "外卖骑手", "logistics", ("delivery", "e_bike", "route_navigation"), "none", (6000, 10000), (0.2, 0.2, 0.6), _F, 0.4, 50, 0.5, 0, 1.8),
    Occupation("warehouse_picker", "仓库拣货员", "logistics", ("warehouse_picking", "inventory", "packing"), "junior_high", (4500, 6500), (0.6, 0.1, 0.3), _S, 0.5, 45, 0.3, 0, 1.4),
    Occupation("forklift_driver", "叉车司机", "logistics", ("forklift", "warehouse_picking", "safety_production"), "junior_high", (5500, 8000), (0.9, 0, 0.1), _S, 0.5, 50, 0.8, 0),
    Occupation("logistics_dispatcher", "物流调度员", "logistics", ("logistics_planning", "office_software", "inventory"), "associate", (6000, 9000), (1, 0, 0), _D, 0.5, 40),
    Occupation("sewing_worker", "缝纫工", "garment", ("sewing", "garment_finishing"), "junior_high", (5000, 8000), (0.6, 0.1, 0.3), _D, 0.5, 50, 0, 0.5, 1.5),
    Occupation("garment_cutter", "裁床工", "garment", ("fabric_cutting", "sewing", "pattern_reading"), "junior_high", (5500, 8500), (0.8, 0, 0.2), _D, 0.5, 50, 0.4, 0),
    Occupation("fabric_sales", "布料销售", "garment", ("fabric_knowledge", "sales", "customer_service_basic"), "high_school", (4500, 9000), (0.8, 0.2, 0), _D, 0.6, 40, 0, 0.3),
    Occupation("leather_worker", "皮具制作工", "leather", ("leather_cutting", "leather_sewing", "sewing"), "junior_high", (5000, 8000), (0.6, 0.1, 0.3), _D, 0.5, 50, 0, 0.3, 1.4),
    Occupation("leather_inspector", "皮具质检员", "leather", ("quality_inspection", "leather_cutting"), "junior_high", (4500, 6500), (0.9, 0, 0.1), _D, 0.5, 45),
    Occupation("electronics_assembler", "电子装配工", "electronics", ("electronics_assembly", "soldering", "quality_inspection"), "junior_high", (4800, 6500), (0.7, 0, 0.3), _S, 0.7, 40, 0, 0.3, 1.4),
    Occupation("machine_operator", "机床操作工", "manufacturing", ("machine_operation", "safety_production", "quality_inspection"), "junior_high", (5000, 7000), (0.8, 0, 0.2), _S, 0.6, 45, 0.5, 0, 1.3),
    Occupation("auto_assembler", "汽车装配工", "manufacturing", ("auto_assembly", "machine_operation", "safety_production"), "high_school", (5500, 8000), (0.9, 0, 0.1), _S, 0.7, 40, 0.6, 0),
    Occupation("packer", "包装工", "manufacturing", ("packing", "quality_inspection"), "none", (4000, 5500), (0.3, 0.2, 0.5), _D, 0.5, 50, 0, 0.2, 1.2),
    Occupation("welder", "焊工", "manufacturing", ("welding", "safety_production"), "junior_high", (6500, 9500), (0.7, 0, 0.3), _D, 0.5, 50, 0.8, 0),
    Occupation("electrician", "电工", "construction", ("electrical_wiring", "electrician_cert", "safety_production"), "vocational", (6500, 10000), (0.7, 0, 0.3), _D, 0.4, 55, 0.8, 0),
    Occupation("bricklayer", "泥瓦工", "construction", ("masonry", "tiling", "construction_safety"), "none", (7000, 10000), (0.2, 0, 0.8), _D, 0.4, 58, 0.9, 0),
    Occupation("decorator", "装修工", "construction", ("tiling", "painting", "carpentry"), "none", (6500, 9500), (0.2, 0.1, 0.7), _D, 0.4, 58, 0.8, 0),
    Occupation("cost_engineer", "工程造价员", "construction", ("cost_estimation", "cad", "construction_knowledge", "office_software"), "associate", (7000, 12000), (1, 0, 0), _D, 0.5, 35),
    Occupation("cook", "厨师", "catering", ("cooking", "food_safety", "chinese_cuisine"), "junior_high", (5500, 9000), (0.8, 0.1, 0.1), _S, 0.5, 50, 0.5, 0, 1.2),
    Occupation("kitchen_helper", "厨房帮工", "catering", ("food_prep", "cleaning", "food_safety"), "none", (3800, 5000), (0.4, 0.3, 0.3), _S, 0.5, 55, 0, 0.2, 1.2),
    Occupation("waiter", "餐厅服务员", "catering", ("food_service", "customer_service_basic", "cashier"), "junior_high", (4000, 5500), (0.5, 0.4, 0.1), _S, 0.7, 35, 0, 0.3, 1.4),
    Occupation("cashier", "收银员", "retail", ("cashier", "pos_systems", "customer_service_basic"), "junior_high", (3800, 5000), (0.6, 0.4, 0), _S, 0.6, 40, 0, 0.5),
    Occupation("shop_assistant", "导购员", "retail", ("sales", "merchandising", "customer_service_basic"), "high_school", (4000, 6500), (0.6, 0.3, 0.1), _W, 0.6, 35, 0, 0.4, 1.2),
    Occupation("pharmacy_clerk", "药店店员", "retail", ("pharmacy_knowledge", "cashier", "customer_service_basic"), "vocational", (4500, 6500), (0.8, 0.2, 0), _S, 0.5, 40),
    Occupation("security_guard", "保安员", "security", ("security_patrol", "fire_safety", "security_cert"), "junior_high", (4000, 5500), (0.8, 0.1, 0.1), _N, 0.6, 55, 0.8, 0, 1.5),
    Occupation("property_manager", "物业管理员", "facility", ("property_management", "customer_service", "office_software"), "associate", (5000, 7500), (1, 0, 0), _D, 0.5, 40),
    Occupation("truck_driver", "货车司机", "transport", ("truck_driving", "vehicle_maintenance", "route_navigation"), "junior_high", (7000, 11000), (0.7, 0, 0.3), _D, 0.5, 55, 0.9, 0),
    Occupation("ride_hailing_driver", "网约车司机", "transport", ("car_driving", "route_navigation", "customer_service_basic"), "junior_high", (6500, 10000), (0.1, 0.3, 0.6), _F, 0.3, 60, 0.5, 0),
    Occupation("call_center_agent", "客服专员", "business_services", ("customer_service", "phone_communication", "office_software"), "high_school", (4500, 6500), (0.8, 0.2, 0), _S, 0.6, 35, 0, 0.3, 1.2),
    Occupation("sales_rep", "销售代表", "business_services", ("sales", "negotiation", "customer_service"), "high_school", (5000, 12000), (1, 0, 0), _D, 0.6, 35, 0, 0, 1.3),
    Occupation("hr_specialist", "人力资源专员", "business_services", ("recruitment", "labor_law", "payroll", "office_software"), "bachelor", (6000, 10000), (1, 0, 0), _D, 0.6, 35),
    Occupation("admin_clerk", "行政文员", "business_services", ("office_software", "document_management", "reception"), "associate", (4500, 6500), (0.9, 0.1, 0), _D, 0.7, 35, 0, 0.4),
    Occupation("graphic_designer", "平面设计师", "business_services", ("graphic_design", "copywriting", "ai_tools"), "associate", (6500, 11000), (0.9, 0.1, 0), _D, 0.6, 35),
    Occupation("accountant", "会计", "finance", ("accounting", "tax_filing", "financial_software", "office_software"), "associate", (6000, 10000), (0.9, 0.1, 0), _D, 0.6, 40, 0, 0.2),
    Occupation("software_engineer", "软件工程师", "tech", ("programming_python", "programming_java", "databases", "software_testing"), "bachelor", (12000, 25000), (1, 0, 0), _D, 0.7, 35, 0, 0, 1.2),
    Occupation("ai_trainer", "人工智能训练师", "tech", ("data_annotation", "ai_tools", "prompt_writing"), "associate", (6000, 10000), (0.9, 0.1, 0), _D, 0.6, 35),
    Occupation("data_labeller", "数据标注员", "tech", ("data_annotation", "office_software"), "high_school", (4500, 6500), (0.5, 0.3, 0.2), _F, 0.6, 35),
    Occupation("ecommerce_operator", "电商运营", "ecommerce", ("ecommerce_ops", "data_analysis", "copywriting"), "associate", (6000, 12000), (1, 0, 0), _D, 0.7, 35, 0, 0, 1.2),
    Occupation("live_streamer", "直播带货主播", "ecommerce", ("live_streaming", "sales", "copywriting"), "high_school", (5000, 15000), (0.6, 0.3, 0.1), _F, 0.7, 30, 0, 0.4),
    Occupation("training_teacher", "培训机构教师", "education", ("teaching", "curriculum_design", "communication"), "bachelor", (6000, 11000), (0.7, 0.3, 0), _W, 0.6, 40),
    Occupation("kindergarten_teacher", "幼儿教师", "education", ("early_education", "teaching", "infant_care"), "associate", (5000, 7500), (1, 0, 0), _D, 0.7, 35, 0, 0.6),
    Occupation("nurse", "护士", "healthcare", ("nursing", "nursing_cert", "patient_care", "first_aid"), "associate", (7000, 11000), (1, 0, 0), _S, 0.6, 40, 0, 0.5),
    Occupation("hotel_receptionist", "酒店前台", "hospitality", ("reception", "customer_service", "english_basic"), "high_school", (4500, 6000), (0.8, 0.2, 0), _S, 0.7, 30, 0, 0.5),
)
OCCUPATION_INDEX = {o.code: i for i, o in enumerate(OCCUPATIONS)}
INDUSTRIES: tuple[str, ...] = tuple(dict.fromkeys(o.industry for o in OCCUPATIONS))
INDUSTRY_ZH = {
    "domestic": "家政服务", "healthcare": "医疗护理", "facility": "物业保洁", "logistics": "物流快递", "garment": "服装纺织",
    "leather": "皮具箱包", "electronics": "电子制造", "manufacturing": "制造业", "construction": "建筑装修",
    "catering": "餐饮", "retail": "零售", "security": "安保", "transport": "交通运输", "business_services": "商务服务",
    "finance": "财务金融", "tech": "信息技术", "ecommerce": "电子商务", "education": "教育培训", "hospitality": "酒店住宿",
}
# Relative concentration of each industry's employers by district (1 = in proportion to population).
INDUSTRY_DISTRICT_BOOST: dict[str, dict[str, float]] = {
    "garment": {"haizhu": 8.0, "panyu": 2.0, "baiyun": 1.5},
    "leather": {"huadu": 12.0, "baiyun": 1.5},
    "tech": {"tianhe": 5.0, "huangpu": 4.0, "haizhu": 1.5, "panyu": 1.2},
    "logistics": {"baiyun": 4.0, "huadu": 2.0, "huangpu": 1.5, "nansha": 1.5, "panyu": 1.5},
    "electronics": {"huangpu": 3.0, "zengcheng": 3.0, "panyu": 2.0, "nansha": 1.5},
    "manufacturing": {"huadu": 3.0, "huangpu": 2.5, "zengcheng": 2.5, "nansha": 2.5, "panyu": 2.0},
    "finance": {"tianhe": 5.0, "yuexiu": 3.0},
    "business_services": {"tianhe": 3.0, "yuexiu": 2.5, "haizhu": 1.5},
    "ecommerce": {"baiyun": 2.5, "haizhu": 2.0, "panyu": 2.0, "tianhe": 1.5},
    "catering": {"yuexiu": 1.5, "tianhe": 1.5, "liwan": 1.3},
    "retail": {"yuexiu": 1.5, "tianhe": 1.5, "liwan": 1.3},
    "hospitality": {"tianhe": 2.0, "yuexiu": 1.5},
    "security": {"tianhe": 1.5},
}
DISTRICT_WAGE_FACTOR = {"tianhe": 1.12, "yuexiu": 1.06, "haizhu": 1.03, "huangpu": 1.05, "nansha": 1.0, "liwan": 0.98,
                        "baiyun": 0.97, "panyu": 1.0, "huadu": 0.95, "zengcheng": 0.94, "conghua": 0.88}

EDU_RANK = {e: i for i, e in enumerate(EDUCATION_LEVELS)}
OCC_SKILL_IDX = [np.array([SKILL_INDEX[s] for s in o.skills]) for o in OCCUPATIONS]
OCC_INDUSTRY_IDX = np.array([INDUSTRIES.index(o.industry) for o in OCCUPATIONS])
OCC_MIN_EDU = np.array([EDU_RANK[o.min_education] for o in OCCUPATIONS])
OCC_WAGE = np.array([o.wage for o in OCCUPATIONS], dtype=float)
OCC_TYPES = np.array([o.types for o in OCCUPATIONS], dtype=float)
OCC_SCHEDULES = np.array([o.schedules for o in OCCUPATIONS], dtype=float)
OCC_DEMAND = np.array([o.demand for o in OCCUPATIONS])
OCC_AGE_LIMIT_SHARE = np.array([o.age_limit_share for o in OCCUPATIONS])
OCC_AGE_MAX = np.array([o.age_max for o in OCCUPATIONS])
OCC_MALE_PREF = np.array([o.male_pref for o in OCCUPATIONS])
OCC_FEMALE_PREF = np.array([o.female_pref for o in OCCUPATIONS])
assert len(OCCUPATIONS) >= 40 and len(JOB_TYPES) == 3 and len(SCHEDULES) == 5


def industry_district_weights() -> np.ndarray:
    """Shape (n_industries, 11): where each industry's employers sit (rows sum to 1)."""
    from recsys.data.synthetic.geography import POP_WEIGHT

    weights = np.tile(POP_WEIGHT, (len(INDUSTRIES), 1))
    for ind, boosts in INDUSTRY_DISTRICT_BOOST.items():
        for district, boost in boosts.items():
            weights[INDUSTRIES.index(ind), DISTRICTS.index(district)] *= boost
    return weights / weights.sum(axis=1, keepdims=True)


def skill_bits(skill_lists: list[np.ndarray] | np.ndarray, n: int | None = None) -> np.ndarray:
    """Bitmask array (n, N_SKILL_WORDS) uint64 from per-row arrays of skill indices."""
    n = len(skill_lists) if n is None else n
    bits = np.zeros((n, N_SKILL_WORDS), dtype=np.uint64)
    rows = np.repeat(np.arange(n), [len(s) for s in skill_lists])
    idx = np.concatenate([np.asarray(s, dtype=np.int64) for s in skill_lists]) if n else np.zeros(0, np.int64)
    np.bitwise_or.at(bits, (rows, idx // 64), np.left_shift(np.uint64(1), (idx % 64).astype(np.uint64)))
    return bits


OCC_SKILL_SLOTS = np.full((len(OCCUPATIONS), 4), -1, dtype=np.int64)
for _i, _sk in enumerate(OCC_SKILL_IDX):
    OCC_SKILL_SLOTS[_i, : len(_sk)] = _sk
"""Skill indices of each occupation in a (n_occupations, 4) array padded with -1."""


def slots_to_skills(slots: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """Bitmasks and sorted, de-duplicated skill-code lists from per-row skill indices (-1 = none)."""
    slots = np.sort(slots, axis=1)
    dup = np.zeros_like(slots, dtype=bool)
    dup[:, 1:] = slots[:, 1:] == slots[:, :-1]
    slots = np.where(dup, -1, slots)
    valid = slots >= 0
    rows, cols = np.nonzero(valid)
    idx = slots[rows, cols]
    bits = np.zeros((len(slots), N_SKILL_WORDS), dtype=np.uint64)
    np.bitwise_or.at(bits, (rows, idx // 64), np.left_shift(np.uint64(1), (idx % 64).astype(np.uint64)))
    names = np.asarray(SKILLS, dtype=object)[idx].tolist()
    ends = np.cumsum(valid.sum(axis=1)).tolist()
    starts = [0, *ends[:-1]]
    return bits, [names[a:b] for a, b in zip(starts, ends, strict=True)]


def bits_to_skills(bits: np.ndarray) -> list[list[str]]:
    """Skill codes of each row of a bitmask array (inverse of :func:`skill_bits`)."""
    out: list[list[str]] = []
    for row in bits:
        codes = []
        for w, word in enumerate(row):
            word = int(word)
            while word:
                low = word & -word
                codes.append(SKILLS[w * 64 + low.bit_length() - 1])
                word ^= low
        out.append(codes)
    return out
