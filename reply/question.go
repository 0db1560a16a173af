package reply

// Question builds the short reply to mail from an agency that carried no
// workbook and asks something: staff will answer; nothing was recorded,
// so it names no receipt and says nothing of "NOT accepted". out needs
// ReplyID, Original and Now; Call is optional (the call the mail names),
// Receipt and Submission are not used.
func (b *Builder) Question(out Outcome) (*Mail, error) {
	out.Receipt = ""
	v := b.common(out)
	text, html, err := b.render(KindQuestion, v)
	if err != nil {
		return nil, err
	}
	env := b.replyEnvelope(KindQuestion, out)
	env.Subject = replySubject(out.Original.Subject, "Your question", "")
	return b.compose(env, text, html, nil)
}
