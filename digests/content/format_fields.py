"""The field labels of the digest text format, in the order an item gives them."""

SUMMARY = "说明"
BACKGROUND = "背景"
KEY_POINTS = "要点"
SOURCE = "来源出处"
# Optional, after the source: 图片：![alt text](https://…)
IMAGE = "图片"
FIELD_ORDER = (SUMMARY, BACKGROUND, KEY_POINTS, SOURCE, IMAGE)
REQUIRED_FIELDS = (SUMMARY, KEY_POINTS, SOURCE)

# Optional issue-wide lines between the header and the first section, in this order.
# 周刊：<first day> 至 <last day> marks a weekly edition; its last day is the header's date.
WEEKLY = "周刊"
SUBJECT = "邮件主题"
PREHEADER = "预览文本"
INTRO = "导语"
DIGEST_FIELDS = (WEEKLY, SUBJECT, PREHEADER, INTRO)
