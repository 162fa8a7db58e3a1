-- Where each rendition lives, next to its CDN URL (issue 13): the seed's dataset job
-- "stores the S3 addresses of the images"; the catalog kept only the URL.
-- s3_bucket / s3_key: the served bucket and the key, s3://{s3_bucket}/{s3_key}.
-- Both are NULL-able: a row loaded before this migration cannot know its bucket (no
-- column held it), while its key follows from the naming rule and is filled in below.
-- The loader writes both for every row from now on (lambdas/catalog_loader).
-- MariaDB 10.3+ and MySQL 8: plain ADD COLUMN ... AFTER, no IF NOT EXISTS.
ALTER TABLE `celeb_image_url`
  ADD COLUMN `s3_bucket` VARCHAR(63)  NULL COMMENT 'served bucket of the rendition' AFTER `url`,
  ADD COLUMN `s3_key`    VARCHAR(512) NULL COMMENT '{vertical}/{image_size}/{cd_idx}_{image_size}_{sequence}.jpg' AFTER `s3_bucket`;

-- The key of the rows already there, by the rule the URL follows (numbers in CONCAT
-- take the column's collation; updated_at keeps its value: the row itself is unchanged).
UPDATE `celeb_image_url`
   SET `s3_key` = CONCAT(`vertical`, '/', `image_size`, '/', `cd_idx`, '_',
                         `image_size`, '_', `sequence`, '.jpg'),
       `updated_at` = `updated_at`
 WHERE `s3_key` IS NULL;
