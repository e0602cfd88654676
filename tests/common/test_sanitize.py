from common.sanitize import sanitize_html, sanitize_translations


def test_it_removes_script_event_handlers_and_javascript_urls():
    dirty = ('<p onclick="x()">Hi <script>alert(1)</script><img src=x onerror="alert(2)">'
             '<a href="javascript:alert(3)">a</a> <a href="https://example.org">b</a></p>')
    assert sanitize_html(dirty) == ('<p>Hi <a rel="noopener noreferrer">a</a> '
                                    '<a href="https://example.org" rel="noopener noreferrer">b</a></p>')


def test_it_keeps_the_allowed_formatting():
    text = "<h2>Title</h2><p><strong>bold</strong> and <em>italic</em></p><ul><li>one</li></ul>"
    assert sanitize_html(text) == text


def test_translations_are_cleaned_per_language():
    assert sanitize_translations({"en": "<b>x</b><script>1</script>", "de": "y"}) == {"en": "<b>x</b>", "de": "y"}
    assert sanitize_translations(None) == {}
