// SPDX-License-Identifier: GPL-2.0
/*
 * Segments, the main log, side logs and segment certificates (log.h).
 *
 * Segment memory is allocated with skv_seg_mem_alloc(), which may sleep,
 * so it is never allocated under a lock: writers make sure a spare segment
 * exists before they take any lock (skv_log_ensure_space) and retry from
 * the start if a racing writer used it up.  Writers may fill memory up to
 * mem_limit less the cleaner's reserve; only the cleaner may use the rest,
 * so it can always allocate a survivor segment and make progress.
 */
#include "store_int.h"

u64 skv_tier_limit(struct skv_store *s, enum skv_alloc_tier tier)
{
	u64 limit = READ_ONCE(s->mem_limit);
	u32 keep = tier == SKV_ALLOC_WRITE ? s->reserve_segs :
		   tier == SKV_ALLOC_DELETE ? s->reserve_segs / 2 : 0;

	return limit - (u64)keep * s->seg_size;
}

struct skv_segment *skv_seg_alloc(struct skv_store *s,
				  enum skv_alloc_tier tier)
{
	u64 limit = skv_tier_limit(s, tier);
	struct skv_seg_hdr *h;
	struct skv_segment *seg;
	s64 used;

	used = skv_atomic64_add_return(s->seg_size, &s->mem_used);
	if ((u64)used + skv_mem_beside_segs(s) > limit)
		goto unaccount;
	seg = skv_zalloc(sizeof(*seg));
	if (!seg)
		goto unaccount;
	seg->data = skv_seg_mem_alloc(s->seg_size);
	if (!seg->data)
		goto free_seg;
	seg->id = skv_atomic64_inc_return(&s->next_seg_id);
	seg->size = s->seg_size;
	seg->used = SKV_SEG_HDR_LEN;
	INIT_LIST_HEAD(&seg->node);
	skv_atomic64_set(&seg->live, 0);
	h = (struct skv_seg_hdr *)seg->data;
	h->magic = cpu_to_le32(SKV_SEG_MAGIC);
	h->size = cpu_to_le32(s->seg_size);
	h->id = cpu_to_le64(seg->id);
	h->reserved = 0;
	skv_atomic64_inc(&s->nsegs);
	return seg;

free_seg:
	skv_free(seg);
unaccount:
	skv_atomic64_sub(s->seg_size, &s->mem_used);
	return NULL;
}

/* Free a segment no reader can reach any more (after a grace period). */
void skv_seg_free(struct skv_store *s, struct skv_segment *seg)
{
	skv_seg_mem_free(seg->data);
	skv_free(seg);
	skv_atomic64_dec(&s->nsegs);
	skv_atomic64_sub(s->seg_size, &s->mem_used);
}

int skv_log_init(struct skv_store *s)
{
	skv_spin_init(&s->log.lock);
	INIT_LIST_HEAD(&s->log.segs);
	s->log.head = NULL;
	s->log.spare = NULL;
	return 0;
}

void skv_log_destroy(struct skv_store *s)
{
	struct skv_segment *seg, *tmp;

	list_for_each_entry_safe(seg, tmp, &s->log.segs, node) {
		list_del(&seg->node);
		skv_seg_free(s, seg);
	}
	if (s->log.spare)
		skv_seg_free(s, s->log.spare);
	s->log.head = NULL;
	s->log.spare = NULL;
	skv_spin_destroy(&s->log.lock);
}

/*
 * May a writer of this tier take the spare?  Its memory is already
 * counted, so the tier must still have room with it counted: a spare a
 * delete allocated in the last segments is not for a put.
 */
static bool skv_spare_usable(struct skv_store *s, enum skv_alloc_tier tier)
{
	return skv_mem_total(s) <= skv_tier_limit(s, tier);
}

/*
 * Make sure an append of len bytes will find room: the head has it or a
 * spare segment is ready.  Called with no lock held; may sleep.  A racing
 * writer may still use the spare up: skv_log_reserve_locked() then fails
 * and the caller drops its locks and comes back here.
 */
int skv_log_ensure_space(struct skv_store *s, u32 len,
			 enum skv_alloc_tier tier)
{
	struct skv_log *l = &s->log;
	struct skv_segment *head, *seg;

	head = READ_ONCE(l->head);
	if (head && READ_ONCE(head->used) + len <= head->size)
		return 0;
	if (READ_ONCE(l->spare))
		return skv_spare_usable(s, tier) ? 0 : -ENOSPC;
	seg = skv_seg_alloc(s, tier);
	if (!seg)
		return -ENOSPC;
	skv_spin_lock(&l->lock);
	if (!l->spare) {
		WRITE_ONCE(l->spare, seg);
		seg = NULL;
	}
	skv_spin_unlock(&l->lock);
	if (seg)
		skv_seg_free(s, seg);	/* never visible */
	return 0;
}

/*
 * Reserve len bytes at the head, rotating to the spare if the head is
 * full.  Called under the log lock; the caller writes the record before
 * dropping it.  NULL if there is no room and no spare (retry), or with
 * *no_space set if the spare is not for this tier.
 */
u8 *skv_log_reserve_locked(struct skv_store *s, u32 len,
			   enum skv_alloc_tier tier, struct skv_segment **segp,
			   bool *no_space)
{
	struct skv_log *l = &s->log;
	struct skv_segment *head = l->head;

	*no_space = false;
	if (!head || skv_seg_room(head) < len) {
		if (!l->spare)
			return NULL;
		if (!skv_spare_usable(s, tier)) {
			*no_space = true;
			return NULL;
		}
		if (head)
			head->state = SKV_SEG_CLOSED;
		head = l->spare;
		WRITE_ONCE(l->spare, NULL);
		head->state = SKV_SEG_HEAD;
		list_add_tail(&head->node, &l->segs);
		WRITE_ONCE(l->head, head);
	}
	*segp = head;
	return skv_seg_append(head, len);
}

static void skv_seg_cert_of(const u8 *data, u32 used, struct skv_seg_cert *c)
{
	c->length = cpu_to_le32(used);
	c->crc = cpu_to_le32(skv_crc32c_std(data, used));
}

int skv_segment_verify(const void *buf, size_t len,
		       const struct skv_seg_cert *cert, u64 *id)
{
	const struct skv_seg_hdr *h = buf;
	u32 length = le32_to_cpu(cert->length);
	const u8 *p = buf;
	struct skv_rec_view v;
	u32 off;
	int ret;

	if (length < SKV_SEG_HDR_LEN || length > len)
		return -EINVAL;
	if (skv_crc32c_std(buf, length) != le32_to_cpu(cert->crc))
		return -EBADMSG;
	if (le32_to_cpu(h->magic) != SKV_SEG_MAGIC || h->reserved ||
	    le32_to_cpu(h->size) < length)
		return -EBADMSG;
	for (off = SKV_SEG_HDR_LEN; off < length; off += v.len) {
		ret = skv_rec_parse(p + off, length - off, SKV_PARSE_CHECK_HASH,
				    &v);
		if (ret)
			return -EBADMSG;
	}
	if (id)
		*id = le64_to_cpu(h->id);
	return 0;
}

long skv_log_segment_copy(struct skv_store *s, u32 idx, void *buf, u32 cap,
			  struct skv_seg_cert *cert)
{
	struct skv_segment *seg, *found = NULL;
	u32 i = 0, used;

	/* The cleaner lock keeps closed segments from being freed. */
	skv_mutex_lock(&s->cleaner_lock);
	skv_spin_lock(&s->log.lock);
	list_for_each_entry(seg, &s->log.segs, node) {
		if (seg->state != SKV_SEG_CLOSED)
			continue;
		if (i++ == idx) {
			found = seg;
			break;
		}
	}
	skv_spin_unlock(&s->log.lock);
	if (!found) {
		skv_mutex_unlock(&s->cleaner_lock);
		return -ENOENT;
	}
	used = found->used;
	if (cap < used) {
		skv_mutex_unlock(&s->cleaner_lock);
		return -ENOSPC;
	}
	memcpy(buf, found->data, used);
	skv_mutex_unlock(&s->cleaner_lock);
	skv_seg_cert_of(buf, used, cert);
	return used;
}

int skv_sidelog_create(struct skv_store *s, struct skv_sidelog **out)
{
	struct skv_sidelog *sl = skv_zalloc(sizeof(*sl));

	if (!sl)
		return -ENOMEM;
	INIT_LIST_HEAD(&sl->segs);
	sl->cur = NULL;
	*out = sl;
	return 0;
}

/* Make room for len bytes in the side log's current segment; may sleep. */
int skv_sidelog_ensure_space(struct skv_store *s, struct skv_sidelog *sl,
			     u32 len)
{
	struct skv_segment *seg;

	if (sl->cur && skv_seg_room(sl->cur) >= len)
		return 0;
	seg = skv_seg_alloc(s, SKV_ALLOC_WRITE);
	if (!seg)
		return -ENOSPC;
	seg->state = SKV_SEG_SIDE;
	skv_atomic64_add(s->seg_size, &s->mem_side);
	list_add_tail(&seg->node, &sl->segs);
	sl->cur = seg;
	return 0;
}

int skv_sidelog_splice(struct skv_store *s, struct skv_sidelog *sl)
{
	struct skv_segment *seg;
	int n = 0;

	skv_spin_lock(&s->log.lock);
	list_for_each_entry(seg, &sl->segs, node) {
		seg->state = SKV_SEG_CLOSED;
		n++;
	}
	list_splice_tail_init(&sl->segs, &s->log.segs);
	skv_spin_unlock(&s->log.lock);
	skv_atomic64_sub((u64)n * s->seg_size, &s->mem_side);
	sl->cur = NULL;
	return n;
}

void skv_sidelog_destroy(struct skv_store *s, struct skv_sidelog *sl)
{
	if (!sl)
		return;
	/* Index entries may point into its segments: they join the log. */
	skv_sidelog_splice(s, sl);
	skv_free(sl);
}
