from django import template
from django.conf import settings
from django.core.cache.utils import make_template_fragment_key

from digests.rendering.once import rendered_fragments

register = template.Library()


@register.simple_tag
def site_name() -> str:
    """The list's name (SITE_NAME), for pages rendered without a view's context such as 404."""
    return settings.SITE_NAME


class RenderedOnceNode(template.Node):
    def __init__(self, nodelist, name: str, vary_on: list):
        self.nodelist, self.name, self.vary_on = nodelist, name, vary_on

    def render(self, context) -> str:
        key = make_template_fragment_key(self.name, [value.resolve(context) for value in self.vary_on])
        html = rendered_fragments.get(key)
        if html is None:
            html = self.nodelist.render(context)
            rendered_fragments.set(key, html)
        return html


@register.tag
def rendered_once(parser, token):
    """``{% rendered_once "name" value… %}…{% endrendered_once %}``: render the block once per process
    for each combination of the values, then repeat it.

    For the parts of a public page that are the same for every visitor (the header, the language switch):
    rendering them costs more than the rest of the request. Whatever the block shows must be
    decided by its values (the language, the categories), by settings or by the site's URLs;
    never put a CSRF token, a CSP nonce or anything about the visitor inside.
    """
    bits = token.split_contents()
    if len(bits) < 2:
        raise template.TemplateSyntaxError("rendered_once needs a name")
    nodelist = parser.parse(("endrendered_once",))
    parser.delete_first_token()
    return RenderedOnceNode(nodelist, bits[1].strip("\"'"), [parser.compile_filter(bit) for bit in bits[2:]])
