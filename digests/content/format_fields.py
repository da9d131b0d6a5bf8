"""The field labels of the digest text format, in the order an item gives them."""

SUMMARY = "说明"
BACKGROUND = "背景"
KEY_POINTS = "要点"
SOURCE = "来源出处"
FIELD_ORDER = (SUMMARY, BACKGROUND, KEY_POINTS, SOURCE)
REQUIRED_FIELDS = (SUMMARY, KEY_POINTS, SOURCE)
