package template

// Check parses a template without rendering it: a syntax error is returned,
// undefined variables are not (they depend on the host). `tend validate`
// uses it.
func Check(text string) error {
	_, err := parseTemplate(text, true)
	return err
}

// CheckExpr parses a bare expression (when:, failed_when:) without
// evaluating it.
func CheckExpr(expression string) error {
	_, err := parseExprString(expression)
	return err
}
