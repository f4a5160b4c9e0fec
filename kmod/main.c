// SPDX-License-Identifier: GPL-2.0-only
/*
 * hsema: the /dev/hsema character device and its ioctl interface.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>
#include <linux/hsema.h>

static long hsema_ioc_version(void __user *arg)
{
	struct hsema_version v = {
		.abi_version = HSEMA_ABI_VERSION,
		.features = 0,
	};

	if (copy_to_user(arg, &v, sizeof(v)))
		return -EFAULT;
	return 0;
}

static long hsema_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case HSEMA_IOC_VERSION:
		return hsema_ioc_version(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations hsema_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= hsema_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice hsema_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "hsema",
	.fops	= &hsema_fops,
	.mode	= 0666,
};

static int __init hsema_init(void)
{
	return misc_register(&hsema_misc);
}

static void __exit hsema_exit(void)
{
	misc_deregister(&hsema_misc);
}

module_init(hsema_init);
module_exit(hsema_exit);

MODULE_DESCRIPTION("Futex-like FIFO counting semaphores with starvation handoff");
MODULE_LICENSE("GPL");
